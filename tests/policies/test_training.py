"""Registry, evaluation and the training loop: names, checkpoints that load without running code,
resuming, clear errors."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest
import torch

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.common import convert_legacy_policy, load_checkpoint
from edgesplit.policies.ddpg import DDPGConfig, DDPPolicy
from edgesplit.policies.evaluate import evaluate, run_episode, summarize
from edgesplit.policies.registry import make_policy, policy_from_spec, policy_names
from edgesplit.policies.training import EVAL_SEED_BASE, Trainer, train_policy
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario

SMALL = DDPGConfig(hidden=16, batch_size=8, learning_starts=20)


def _trainer(policy, steps, out, resume=False):
    eval_env = decision_env(policy.scenario)
    return Trainer(
        policy.training_env(), steps, 0, out, eval_every=40, eval_episodes=1,
        evaluate=lambda p, s: run_episode(p, eval_env, s)["utility"],
        resume=resume, show_progress=False,
    )  # fmt: skip


def test_registry_names_and_errors():
    assert {
        "local", "eo+ta", "eo+bs", "dads+ta", "dads+bs", "dads+utility", "optimum", "ddp+ta",
    } <= set(policy_names("slot"))  # fmt: skip
    with pytest.raises(InvalidParameterError, match=r"policy='nope'.*one of"):
        make_policy("nope", "shi2025-wifi")
    with pytest.raises(InvalidParameterError, match="none: local does not learn"):
        make_policy("local", "shi2025-wifi", checkpoint="x.pt")
    label, policy = policy_from_spec(" dads+bs ", load_scenario("shi2025-5g"))
    assert label == "dads+bs" and policy.allocator.name == "bs"


def test_evaluation_is_seeded_and_intervals_cover_the_runs():
    scenario = load_scenario("shi2025-5g")
    policies = {"dads+ta": lambda: make_policy("dads+ta", scenario)}
    first = evaluate(policies, scenario, episodes=3, seed=4)[0]
    again = evaluate(policies, scenario, episodes=3, seed=4)[0]
    assert first.mean == again.mean
    env = decision_env(scenario)
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
        policy = DDPPolicy(scenario, seed=0, allocator="ta", config=SMALL)
        _trainer(policy, steps, out, resume).run(policy)
        return policy

    whole = train(tmp_path / "a", 80)
    train(tmp_path / "b", 40)
    resumed = train(tmp_path / "b", 80, resume=True)
    for p, q in zip(whole.actor.parameters(), resumed.actor.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    with (tmp_path / "b" / "eval.csv").open() as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [40, 80]
    loaded = make_policy("ddp+ta", scenario, checkpoint=tmp_path / "a" / "policy.pt")
    obs, _ = decision_env(scenario).reset(seed=0)
    assert np.array_equal(loaded.decide(obs).cut, whole.decide(obs).cut)
    # best.pt holds the best evaluated policy: re-evaluating it gives the best score in eval.csv
    for run in ("a", "b"):
        with (tmp_path / run / "eval.csv").open() as handle:
            best_score = max(float(row["score"]) for row in csv.DictReader(handle))
        best = make_policy("ddp+ta", scenario, checkpoint=tmp_path / run / "best.pt")
        rerun = run_episode(best, decision_env(scenario), EVAL_SEED_BASE)["utility"]
        assert rerun == pytest.approx(best_score)


def test_training_files_hold_tensors_and_plain_data_only(tmp_path):
    """Every file `train` writes loads with torch.load(weights_only=True); the policy files are
    flat dicts of tensors with a JSON sidecar naming the policy, its config and its scenario."""
    train_policy(
        "ddp+ta", "shi2025-wifi", 30, 0, tmp_path, eval_every=30, eval_episodes=1,
        show_progress=False,
    )  # fmt: skip
    for name in ("policy.pt", "best.pt"):
        tensors = torch.load(tmp_path / name, weights_only=True)
        assert tensors and all(isinstance(t, torch.Tensor) for t in tensors.values())
        meta = (tmp_path / name).with_suffix(".json").read_text()
        assert '"policy": "ddp"' in meta and '"sha256"' in meta and '"edgesplit"' in meta
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert {"trainer", "env", "learner"} <= set(state)
    restored = load_checkpoint(tmp_path / "checkpoint.pt")
    assert isinstance(restored["env"]["battery_j"], np.ndarray)
    assert restored["trainer"]["step"] == 30


class _Payload:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_crafted_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    crafted = tmp_path / "policy.pt"
    torch.save({"policy": "ddp", "net": _Payload(marker)}, crafted)
    with pytest.raises(InvalidParameterError, match="convert-policy"):
        make_policy("ddp+ta", "shi2025-wifi", checkpoint=crafted)
    with pytest.raises(InvalidParameterError, match="cannot be converted safely"):
        convert_legacy_policy(crafted, tmp_path / "new.pt")
    (tmp_path / "checkpoint.pt").write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(InvalidParameterError, match="checkpoint="):
        load_checkpoint(tmp_path / "checkpoint.pt")
    assert not marker.exists()


def test_files_that_are_not_torch_files_are_named_so_without_warnings(tmp_path):
    """Random bytes and a plain pickle are not "Python objects" (what a 0.1 checkpoint holds):
    each is refused as no torch file of tensors, and torch's warning about the pickle's
    protocol is not printed before the refusal."""
    import warnings

    files = {"random.pt": np.random.default_rng(0).bytes(500), "plain.pt": pickle.dumps({"a": 1})}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any warning fails the test
            for load in (load_checkpoint, lambda p: convert_legacy_policy(p, tmp_path / "n.pt")):
                with pytest.raises(InvalidParameterError, match="a torch file of tensors"):
                    load(tmp_path / name)
    assert not (tmp_path / "n.pt").exists()


def test_a_legacy_policy_file_converts_to_the_same_decisions(tmp_path):
    """An edgesplit 0.1 policy.pt (a dict of the config, scenario, NumPy observation scale and
    network state dicts) converts into a file that decides exactly as the original networks."""
    scenario = load_scenario("shi2025-wifi")
    policy = DDPPolicy(scenario, seed=3, config=SMALL)
    policy.obs_scale = np.linspace(1.0, 2.0, policy.obs_dim)
    legacy = {
        "policy": "ddp", "scenario": scenario.model_dump(mode="json"), "allocator": "ta",
        "config": policy.metadata()["config"], "obs_scale": policy.obs_scale,
        "actor": policy.actor.state_dict(), "critic": policy.critic.state_dict(),
    }  # fmt: skip
    torch.save(legacy, tmp_path / "old.pt")
    convert_legacy_policy(tmp_path / "old.pt", tmp_path / "new.pt")
    loaded = make_policy("ddp+ta", scenario, checkpoint=tmp_path / "new.pt")
    env = decision_env(scenario)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        assert np.array_equal(loaded.decide(obs).cut, policy.decide(obs).cut)
        obs, *_ = env.step(policy.decide(obs))


def test_checkpoints_for_another_scenario_are_refused(tmp_path):
    scenario = load_scenario("shi2025-wifi")
    policy = DDPPolicy(scenario, config=SMALL)
    policy.save(tmp_path / "p.pt")
    with pytest.raises(InvalidParameterError, match="'chukhno2023' differs in devices"):
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
