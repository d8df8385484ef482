"""The variant report's load generator."""

import multiprocessing

from edgesplit.compress.report import busy_workers


def test_busy_workers_run_and_stop():
    """Two workers run while the block lasts and are gone after it (other children of this
    process, e.g. a shared test server's lanes, are not theirs)."""
    before = set(multiprocessing.active_children())
    with busy_workers(2):
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 2 and all(p.is_alive() for p in started)
    assert set(multiprocessing.active_children()) - before == set()
