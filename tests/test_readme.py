"""Every command and code block of the README runs as written (``make test-all``: minutes)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from edgesplit.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands() -> list[list[str]]:
    """The `.venv/bin/edgesplit ...` lines (continuations joined, comments dropped)."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith(".venv/bin/edgesplit "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


def _legacy_policy(path: Path) -> None:
    """An edgesplit 0.1 policy.pt for `convert-policy` to convert (networks and config)."""
    from dataclasses import asdict

    from edgesplit.policies.ddpg import DDPPolicy

    policy = DDPPolicy("shi2025-5g")
    path.parent.mkdir(parents=True)
    torch.save(
        {"policy": "ddp", "scenario": policy.scenario.model_dump(mode="json"),
         "allocator": "ta", "config": asdict(policy.config), "obs_scale": None,
         "actor": policy.actor.state_dict(), "critic": policy.critic.state_dict()},
        path,
    )  # fmt: skip


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path, monkeypatch):
    commands = _commands()
    assert len(commands) >= 19 and ["demo"] in commands
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    _legacy_policy(tmp_path / "old" / "policy.pt")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"edgesplit {shlex.join(args)}:\n{result.output}"


@pytest.mark.slow
@pytest.mark.parametrize("block", _blocks("python"), ids=lambda b: b.splitlines()[0][:40])
def test_every_readme_code_block_runs(block, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
