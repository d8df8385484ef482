"""A run interrupted (Ctrl-C mid-step, or SIGKILL) and resumed writes the same files, byte for
byte, as the same run uninterrupted: logs, policy files and checkpoint. The only fields that may
differ are wall-clock ones, named here: ``run.json``'s ``created``, ``eval.csv``'s ``wall_s``
column and the checkpoint's ``trainer.wall_s`` (and the size of eval.csv it records). The
checkpoint is compared by content (every tensor's and value's bytes), the other files as
they are."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.common import load_checkpoint
from edgesplit.policies.training import Trainer, TrainingInterrupted, train_policy

DDP = {"policy": "ddp+ta", "scenario": "shi2025-5g", "steps": 60, "eval_every": 20,
       "settings": {"hidden": "8", "batch_size": "4", "learning_starts": "5"}}  # fmt: skip
PPO = {"policy": "emh-ppo", "scenario": "zhang2026-small", "steps": 48, "eval_every": 16,
       "settings": {"rollout_steps": "16", "minibatch": "8", "epochs": "2"}}  # fmt: skip


def _train(folder, run, resume=False):
    return train_policy(
        run["policy"], run["scenario"], run["steps"], 0, folder, resume, run["eval_every"], 1,
        show_progress=False, settings=run["settings"],
    )  # fmt: skip


def _without_wall_clock(folder):
    """Every file of a run folder as bytes, less the wall-clock fields."""
    files = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.name == "run.json":
            manifest = json.loads(data)
            manifest.pop("created")
            data = json.dumps(manifest, sort_keys=True).encode()
        elif path.name == "eval.csv":
            rows = list(csv.reader(io.StringIO(data.decode())))
            data = "\n".join(",".join(r[:1] + r[2:]) for r in rows).encode()  # not wall_s
        elif path.name == "checkpoint.pt":
            state = load_checkpoint(path)
            state["trainer"].pop("wall_s")
            state["trainer"]["log_bytes"].pop("eval.csv")  # its wall_s column's width
            data = b"".join(_contents(state))
        files[path.name] = data
    return files


def _contents(value, path=""):
    """A checkpoint's content as bytes, leaf by leaf: each leaf's path, then its dtype, shape
    and raw bytes (tensors, arrays) or its repr (Python values). torch.save's own bytes depend
    on which tensors happen to share storage, not only on their values."""
    if isinstance(value, dict):
        for key in value:
            yield from _contents(value[key], f"{path}/{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _contents(item, f"{path}/{i}")
    elif isinstance(value, torch.Tensor):
        yield f"{path}:{value.dtype}{list(value.shape)}=".encode() + value.numpy().tobytes()
    elif isinstance(value, np.ndarray):
        yield f"{path}:{value.dtype}{list(value.shape)}=".encode() + value.tobytes()
    else:
        yield f"{path}={value!r}".encode()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The files of each run uninterrupted (made on first use)."""
    made = {}

    def files(name):
        if name not in made:
            folder = tmp_path_factory.mktemp(name)
            _train(folder, RUNS[name])
            made[name] = _without_wall_clock(folder)
        return made[name]

    return files


RUNS = {"ddp": DDP, "ppo": PPO}
SLOW = pytest.mark.slow  # make test keeps DDP's mid-step moment; test-all the rest


@pytest.mark.parametrize(("name", "at"), [
    ("ddp", 7), pytest.param("ddp", 20, marks=SLOW), pytest.param("ddp", 41, marks=SLOW),
    pytest.param("ppo", 5, marks=SLOW), pytest.param("ppo", 16, marks=SLOW),
    pytest.param("ppo", 35, marks=SLOW),
])  # fmt: skip
def test_ctrl_c_mid_step_then_resume_equals_one_run(tmp_path, monkeypatch, uninterrupted, name, at):
    """SIGINT arrives in the middle of step ``at`` (after the env stepped, before the learner
    updated: the moment that left a checkpoint one step off); the run stops at the end of that
    step, and the resumed run's files equal the uninterrupted run's."""
    run, record = RUNS[name], Trainer.record_reward

    def interrupting(trainer, reward, done):
        if trainer.step + 1 == at and not trainer.resume:
            os.kill(os.getpid(), signal.SIGINT)
        record(trainer, reward, done)

    monkeypatch.setattr(Trainer, "record_reward", interrupting)
    with pytest.raises(TrainingInterrupted, match=f"interrupted at step {at} of"):
        _train(tmp_path, run)
    monkeypatch.setattr(Trainer, "record_reward", record)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["trainer"]["step"] == at
    _train(tmp_path, run, resume=True)
    assert _without_wall_clock(tmp_path) == uninterrupted(name)


@pytest.mark.slow  # three processes that import torch
def test_sigkill_then_resume_equals_one_run(tmp_path, uninterrupted):
    """`edgesplit train` killed with SIGKILL after its second checkpoint (mid-run, rows logged
    after the checkpoint included), then the same command with --resume: the files equal the
    uninterrupted run's (the resume cuts the logs back to the checkpoint)."""
    settings = [f"--set={key}={value}" for key, value in DDP["settings"].items()]
    command = [
        sys.executable, "-m", "edgesplit", "train", DDP["policy"], "--scenario", DDP["scenario"],
        "--steps", str(DDP["steps"]), "--eval-every", str(DDP["eval_every"]),
        "--eval-episodes", "1", "--out", str(tmp_path), *settings,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            logged = tmp_path / "eval.csv"
            if logged.is_file() and logged.read_text().count("\n") >= 3:  # header, two rows
                break
            time.sleep(0.01)
        process.kill()
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "it finished before it could be killed"
    assert load_checkpoint(tmp_path / "checkpoint.pt")["trainer"]["step"] < DDP["steps"]
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _without_wall_clock(tmp_path) == uninterrupted("ddp")


def test_a_resume_with_another_seed_or_schedule_is_refused_and_one_run_at_a_time(tmp_path):
    """A resume must ask for the run's seed and evaluation schedule (naming the one that
    differs), and a run folder being written by one run is refused to a second one."""
    from edgesplit.policies.run_folder import run_lock

    _train(tmp_path, {**DDP, "steps": 20})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InvalidParameterError, match=r"same seed.*it has 0.*asks for 7"):
        train_policy("ddp+ta", "shi2025-5g", 40, 7, tmp_path, True, 20, 1,
                     show_progress=False, settings=DDP["settings"])  # fmt: skip
    with pytest.raises(InvalidParameterError, match=r"its schedule has eval_every=20 \(now 10\)"):
        train_policy("ddp+ta", "shi2025-5g", 40, 0, tmp_path, True, 10, 1,
                     show_progress=False, settings=DDP["settings"])  # fmt: skip
    with run_lock(tmp_path), pytest.raises(InvalidParameterError, match="no other run is writing"):
        _train(tmp_path, {**DDP, "steps": 40}, resume=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
