"""The stable-baselines3 cross-check trains on the env DDP trains in."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.experiments.sb3 import train_sb3
from edgesplit.policies.evaluate import run_episode
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario


def test_sb3_cross_check_trains_on_the_same_env():
    """SB3's TD3 trains on SlotMEC-v0 through the same Eq. 19 mapping: its policy's cuts are
    Eq. 19 of the SB3 actor's action on the scaled observation, and the env accepts them."""
    scenario = load_scenario("shi2025-wifi")
    policy = train_sb3("td3", scenario, steps=200, seed=0)
    env = decision_env(scenario)
    obs, _ = env.reset(seed=0)
    action, _ = policy.model.model.predict(obs / policy.model.scale, deterministic=True)
    expected = np.floor((np.clip(action, -1, 1) + 1) / 2 * (policy.system.n_cuts - 1))
    decision = policy.decide(obs)
    assert np.array_equal(decision.cut, np.minimum(expected, policy.system.n_cuts - 1))
    assert np.isfinite(run_episode(policy, env, 0)["utility"])
    with pytest.raises(InvalidParameterError, match="algorithm='sac'"):
        train_sb3("sac", scenario, steps=10, seed=0)


@pytest.mark.slow
def test_the_cross_check_experiment_evaluates_on_held_out_seeds(tmp_path):
    """``edgesplit reproduce shi2025-sb3 --quick``: DADS + TA's row is ``evaluate``'s summary on
    the held-out seeds 1,000,000-1,000,004."""
    from edgesplit.experiments.reproduce import reproduce
    from edgesplit.policies.evaluate import evaluate
    from edgesplit.policies.registry import make_policy

    reproduce("shi2025-sb3", quick=True, out=tmp_path, show_progress=False)
    rows = {r["policy"]: r for r in csv.DictReader((tmp_path / "shi2025-sb3.csv").open())}
    scenario = load_scenario("shi2025-5g")
    [summary] = evaluate({"dads+ta": lambda: make_policy("dads+ta", scenario)}, scenario, 5,
                         1_000_000)  # fmt: skip
    assert float(rows["dads+ta"]["utility"]) == pytest.approx(summary.mean["utility"], rel=1e-12)
    assert np.isfinite(float(rows["sb3-td3"]["utility"]))
