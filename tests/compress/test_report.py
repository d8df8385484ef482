"""The variant report's load generator."""

import multiprocessing

from edgesplit.compress.report import busy_workers


def test_busy_workers_run_and_stop():
    with busy_workers(2):
        assert len(multiprocessing.active_children()) == 2
        assert all(p.is_alive() for p in multiprocessing.active_children())
    assert multiprocessing.active_children() == []
