"""Registry, evaluation and the training loop: names, checkpoints, resuming, clear errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.ddpg import DDPGConfig, DDPPolicy
from edgesplit.policies.evaluate import evaluate, make_env, run_episode, summarize
from edgesplit.policies.registry import make_policy, policy_from_spec, policy_names
from edgesplit.policies.training import EVAL_SEED_BASE, Trainer, train_policy
from edgesplit.sim.scenario import load_scenario

SMALL = DDPGConfig(hidden=16, batch_size=8, learning_starts=20)


def _trainer(env, steps, out, resume=False):
    eval_env = make_env(env.scenario)
    return Trainer(
        env, steps, 0, out, eval_every=40, eval_episodes=1,
        evaluate=lambda p, s: run_episode(p, eval_env, s)["utility"],
        resume=resume, show_progress=False,
    )  # fmt: skip


def test_registry_names_and_errors():
    assert {"local", "eo+ta", "eo+bs", "dads+ta", "dads+bs", "optimum", "ddp+ta"} <= set(
        policy_names("slot")
    )
    with pytest.raises(InvalidParameterError, match=r"policy='nope'.*one of"):
        make_policy("nope", "shi2025-wifi")
    with pytest.raises(InvalidParameterError, match="none: local does not learn"):
        make_policy("local", "shi2025-wifi", checkpoint="x.pt")
    label, policy = policy_from_spec(" dads+bs ", load_scenario("shi2025-5g"))
    assert label == "dads+bs" and policy.allocator == "bs"


def test_evaluation_is_seeded_and_intervals_cover_the_runs():
    scenario = load_scenario("shi2025-5g")
    policies = {"dads+ta": lambda: make_policy("dads+ta", scenario)}
    first = evaluate(policies, scenario, episodes=3, seed=4)[0]
    again = evaluate(policies, scenario, episodes=3, seed=4)[0]
    assert first.mean == again.mean
    env = make_env(scenario)
    runs = [run_episode(make_policy("dads+ta", scenario), env, 4 + i) for i in range(3)]
    values = np.array([r["utility"] for r in runs])
    assert first.mean["utility"] == pytest.approx(values.mean())
    assert first.half_width["utility"] > 0
    assert summarize("x", runs[:1]).half_width["utility"] == 0.0
    with pytest.raises(InvalidParameterError, match="episodes=0"):
        evaluate(policies, scenario, episodes=0, seed=0)


def test_resumed_training_equals_one_run(tmp_path):
    """Training 80 steps in one go, or 40 then a resume to 80, gives the same weights."""
    scenario = load_scenario("shi2025-wifi")

    def train(out, steps, resume=False):
        torch.manual_seed(0)
        policy = DDPPolicy(scenario, seed=0, allocator="ta", config=SMALL)
        env = make_env(scenario, allocator="ta")
        _trainer(env, steps, out, resume).run(policy)
        return policy

    whole = train(tmp_path / "a", 80)
    train(tmp_path / "b", 40)
    resumed = train(tmp_path / "b", 80, resume=True)
    for p, q in zip(whole.actor.parameters(), resumed.actor.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    with (tmp_path / "b" / "eval.csv").open() as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [40, 80]
    loaded = make_policy("ddp+ta", scenario, checkpoint=tmp_path / "a" / "policy.pt")
    obs, _ = make_env(scenario).reset(seed=0)
    assert np.array_equal(loaded.decide(obs).cut_index, whole.decide(obs).cut_index)
    # best.pt holds the best evaluated policy: re-evaluating it gives the best score in eval.csv
    for run in ("a", "b"):
        with (tmp_path / run / "eval.csv").open() as handle:
            best_score = max(float(row["score"]) for row in csv.DictReader(handle))
        best = make_policy("ddp+ta", scenario, checkpoint=tmp_path / run / "best.pt")
        rerun = run_episode(best, make_env(scenario), EVAL_SEED_BASE)["utility"]
        assert rerun == pytest.approx(best_score)


def test_checkpoints_for_another_scenario_are_refused(tmp_path):
    scenario = load_scenario("shi2025-wifi")
    policy = DDPPolicy(scenario, config=SMALL)
    policy.save(tmp_path / "p.pt")
    with pytest.raises(InvalidParameterError, match="trained on this scenario's 3 devices"):
        make_policy("ddp+ta", "chukhno2023", checkpoint=tmp_path / "p.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(InvalidParameterError, match="a torch file"):
        make_policy("ddp+ta", scenario, checkpoint=tmp_path / "junk.pt")


def test_train_policy_refuses_to_overwrite_and_non_learners(tmp_path):
    with pytest.raises(InvalidParameterError, match="a learner"):
        train_policy("dads+ta", "shi2025-wifi", 10, 0, tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(InvalidParameterError, match="--resume"):
        train_policy("ddp+ta", "shi2025-wifi", 10, 0, tmp_path)


def test_sb3_cross_check_trains_on_the_same_env():
    """SB3's TD3 trains on SlotMEC-v0 through the same Eq. 19 mapping: its policy's cuts are
    Eq. 19 of the SB3 actor's action on the scaled observation, and the env accepts them."""
    from edgesplit.policies.sb3 import train_sb3

    scenario = load_scenario("shi2025-wifi")
    policy = train_sb3("td3", scenario, steps=200, seed=0)
    env = make_env(scenario)
    obs, _ = env.reset(seed=0)
    action, _ = policy.model.model.predict(obs / policy.model.scale, deterministic=True)
    expected = np.floor((np.clip(action, -1, 1) + 1) / 2 * (policy.system.n_cuts - 1))
    decision = policy.decide(obs)
    assert np.array_equal(decision.cut_index - 1, np.minimum(expected, policy.system.n_cuts - 1))
    assert np.isfinite(run_episode(policy, env, 0)["utility"])
    with pytest.raises(InvalidParameterError, match="algorithm='sac'"):
        train_sb3("sac", scenario, steps=10, seed=0)
