"""Progress off a terminal: plain lines a log file keeps, with what is done and left."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

import edgesplit.progress as progress
from edgesplit.policies.training import train_policy


def _log() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, force_terminal=False, width=200), text


def test_a_count_writes_a_line_per_tenth_with_done_and_left():
    console, text = _log()
    with progress.bar("sweep", 20, "tasks", console=console) as shown:
        for _ in range(20):
            shown.advance()
    lines = text.getvalue().splitlines()
    assert [re.search(r"(\d+)/20 tasks \((\d+)%\)", line).group(1) for line in lines[:10]] == [
        str(2 * k) for k in range(1, 11)
    ]
    assert "left" in lines[0] and lines[-1].endswith("(finished)")


def test_a_short_job_writes_nothing_and_a_long_one_beats():
    console, text = _log()
    with progress.status("tracing", console=console) as shown:
        shown.update("tracing: done")
    assert text.getvalue() == ""  # over within QUIET_S
    with progress.status("measuring", console=console, period_s=0.05) as shown:
        deadline = time.monotonic() + 10
        while text.getvalue().count("measuring") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # waits for the heartbeat thread, bounded
    beats = [line for line in text.getvalue().splitlines() if "measuring" in line]
    assert len(beats) >= 2 and re.match(r"\[\d+:\d\d:\d\d\] measuring", beats[0])


def test_training_off_a_terminal_logs_its_steps(tmp_path, monkeypatch):
    """`train` with show_progress (what the command passes) into a log: lines for the tenths of
    its steps and the evaluations (it wrote nothing to a log file before)."""
    console, text = _log()
    monkeypatch.setattr(progress, "_stderr", console)
    train_policy(
        "ddp+ta", "shi2025-5g", 30, 0, tmp_path, eval_every=15, eval_episodes=1,
        settings={"hidden": "8", "batch_size": "4", "learning_starts": "5"},
    )  # fmt: skip
    lines = text.getvalue().splitlines()
    assert any("training" in line and "30/30 steps (100%)" in line for line in lines)
    assert any("evaluated" in line for line in lines) and len(lines) >= 10
