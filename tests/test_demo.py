"""The main job runs end to end: plans, real split execution, matching outputs."""

from __future__ import annotations

import pytest

from edgesplit.demo import run_demo
from edgesplit.plan import plan_defaults


@pytest.mark.slow
def test_demo_plans_and_runs_every_split():
    results = run_demo()
    settings = plan_defaults()["demo"]
    assert [(r.model, r.pair, r.link) for r in results] == [
        (m, p["label"], link)
        for m in settings["models"]
        for p in settings["pairs"]
        for link in settings["links"]
    ]
    for r in results:
        assert r.check.matches and r.interior_check.matches
        assert r.plan.best.objective <= r.best_interior.objective
        assert r.plan.best.objective <= min(
            r.plan.all_local.objective, r.plan.all_offloaded.objective
        )
        interior = r.best_interior.cut
        assert not interior.is_all_local and not interior.sends_input
