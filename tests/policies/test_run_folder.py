"""Run folders: `train` never writes into a folder that holds a run unless --resume matches it,
and a resume continues only the same policy, scenario and config."""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.training import Trainer, TrainingInterrupted, train_policy

QUICK = {"eval_every": 10, "eval_episodes": 1, "show_progress": False}


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_finished_run_without_checkpoint_is_never_overwritten(tmp_path):
    """A folder holding policy.pt, best.pt and logs but no checkpoint.pt (the case that lost a
    22-minute run) is refused, and every byte in it stays."""
    train_policy("ddp+ta", "shi2025-wifi", 10, 0, tmp_path, **QUICK)
    (tmp_path / "checkpoint.pt").unlink()
    (tmp_path / "run.json").unlink()
    before = _snapshot(tmp_path)
    with pytest.raises(InvalidParameterError, match="a new or empty folder"):
        train_policy("ddp+ta", "shi2025-wifi", 5, 1, tmp_path, **QUICK)
    assert _snapshot(tmp_path) == before


def test_resume_checks_policy_scenario_and_config(tmp_path):
    run = tmp_path / "run"
    train_policy("ddp+ta", "shi2025-5g", 10, 0, run, **QUICK)
    before = _snapshot(run)
    with pytest.raises(InvalidParameterError, match=r"same scenario.*'shi2025-5g'.*'shi2025-wifi'"):
        train_policy("ddp+ta", "shi2025-wifi", 20, 0, run, resume=True, **QUICK)
    with pytest.raises(InvalidParameterError, match=r"same policy.*'ddp\+ta'.*'ddp\+bs'"):
        train_policy("ddp+bs", "shi2025-5g", 20, 0, run, resume=True, **QUICK)
    manifest = json.loads((run / "run.json").read_text())
    manifest["config"]["hidden"] = 64
    (run / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidParameterError, match=r"its config has hidden=64 \(now 256\)"):
        train_policy("ddp+ta", "shi2025-5g", 20, 0, run, resume=True, **QUICK)
    before["run.json"] = (run / "run.json").read_bytes()
    assert _snapshot(run) == before
    with pytest.raises(InvalidParameterError, match="it does not exist"):
        train_policy("ddp+ta", "shi2025-5g", 20, 0, tmp_path / "none", resume=True, **QUICK)
    assert not (tmp_path / "none").exists()


def test_a_corrupted_checkpoint_on_resume_is_one_clear_error(tmp_path):
    train_policy("ddp+ta", "shi2025-5g", 10, 0, tmp_path, **QUICK)
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage")
    with pytest.raises(InvalidParameterError, match=r"checkpoint=.*a torch file"):
        train_policy("ddp+ta", "shi2025-5g", 20, 0, tmp_path, resume=True, **QUICK)


def test_ctrl_c_saves_and_says_how_to_resume(tmp_path):
    """Ctrl-C (here: SIGINT during the evaluation at step 20) stops the run at the end of that
    step, saves the checkpoint there, says where and how to continue, and the resumed run goes
    on from step 20."""
    from edgesplit.policies.ddpg import DDPGConfig, DDPPolicy
    from edgesplit.sim import decision_env
    from edgesplit.sim.scenario import load_scenario

    scenario = load_scenario("shi2025-wifi")
    eval_env = decision_env(scenario)

    def interrupting(policy, seed):
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the handler only takes note
        return run_episode(policy, eval_env, seed)["utility"]

    policy = DDPPolicy(scenario, config=DDPGConfig(hidden=8, batch_size=4, learning_starts=5))
    trainer = Trainer(
        policy.training_env(), 40, 0, tmp_path, eval_every=20, eval_episodes=1,
        evaluate=interrupting, show_progress=False,
    )  # fmt: skip
    before = signal.getsignal(signal.SIGINT)  # a shell's background job starts with SIG_IGN
    with pytest.raises(TrainingInterrupted, match=r"step 20 of 40: saved .*--resume"):
        trainer.run(policy)
    assert signal.getsignal(signal.SIGINT) is before  # given back
    resumed = Trainer(
        policy.training_env(), 40, 0, tmp_path, eval_every=20, eval_episodes=1,
        evaluate=lambda p, s: run_episode(p, eval_env, s)["utility"], resume=True,
        show_progress=False,
    )  # fmt: skip
    resumed.run(DDPPolicy(scenario, config=DDPGConfig(hidden=8, batch_size=4, learning_starts=5)))
    with (tmp_path / "eval.csv").open() as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [20, 40]
