"""Progress of long jobs, the same calls whether anyone watches a terminal or a log file: on a
terminal rich draws its spinner or bar; otherwise (a pipe, a file, CI) plain lines go to
stderr, one when the text changes or a tenth of the work is done, at most one every
``QUIET_S`` seconds for text, and a heartbeat line when nothing changed for ``PERIOD_S``, each
with what is being done, how much is done and left, and the time so far. A job that ends (or
fails) within ``QUIET_S`` without crossing a tenth writes nothing.

``status(text)`` is a job described by text (``update(text)`` as it goes: "profiling resnet18: 2
threads, cut 5/16"); ``bar(description, total, unit)`` counts (``advance``, ``update``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

PERIOD_S = 30.0  # the longest a log goes without a line while a job runs
QUIET_S = 2.0  # the shortest time between two lines of changing text

_stderr = Console(stderr=True, soft_wrap=True)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class _Lines:
    """Plain progress lines on ``console``; a thread writes the heartbeat."""

    def __init__(
        self, console: Console, text: str, total: int | None, unit: str, period_s: float
    ) -> None:
        self.console, self.text, self.total, self.unit = console, text, total, unit
        self.period_s = period_s
        self.done = 0
        self.said = False  # nothing written yet: a job over within QUIET_S writes nothing
        self.started = self.said_at = time.monotonic()
        self.tenths = 0  # tenths of the total already announced
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.heart = threading.Thread(target=self._beat, daemon=True, name="progress")

    def __enter__(self) -> _Lines:
        self.heart.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.heart.join()
        if exc[0] is None and self.said:
            self._say(" (finished)")

    def update(self, text: str | None = None, completed: int | None = None) -> None:
        with self.lock:
            changed = text is not None and text != self.text
            self.text = self.text if text is None else text
            self.done = self.done if completed is None else completed
            tenths = 10 * self.done // self.total if self.total else 0
            crossed = tenths > self.tenths
            self.tenths = max(self.tenths, tenths)
            quiet = time.monotonic() - self.said_at < QUIET_S
        if crossed or (changed and not quiet and self.said):
            self._say()

    def advance(self, count: int = 1) -> None:
        self.update(completed=self.done + count)

    def _beat(self) -> None:
        while not self.stopped.wait(min(self.period_s, QUIET_S, 1.0)):
            since_s = time.monotonic() - self.said_at
            if since_s >= (self.period_s if self.said else QUIET_S):
                self._say()

    def _say(self, tail: str = "") -> None:
        with self.lock:
            now = time.monotonic()
            self.said_at, self.said = now, True
            elapsed = now - self.started
            line = f"[{_clock(elapsed)}] {self.text}"
            if self.total:
                share = self.done / self.total
                line += f": {self.done}/{self.total} {self.unit} ({100 * share:.0f}%)"
                if 0 < self.done < self.total:
                    line += f", about {_clock(elapsed * (1 - share) / share)} left"
        self.console.print(line + tail, highlight=False, markup=False)


class _Bar:
    """A rich progress bar behind the same calls as ``_Lines``."""

    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress, self.task = progress, task

    def update(self, text: str | None = None, completed: int | None = None) -> None:
        self.progress.update(self.task, description=text, completed=completed)

    def advance(self, count: int = 1) -> None:
        self.progress.advance(self.task, count)


class _Silent:
    def update(self, text: str | None = None, completed: int | None = None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


@contextmanager
def bar(
    description: str,
    total: int,
    unit: str,
    enabled: bool = True,
    console: Console | None = None,
    transient: bool = False,
    period_s: float = PERIOD_S,
) -> Iterator[_Lines | _Bar | _Silent]:
    """A count of ``total`` ``unit`` (``advance``, ``update(text, completed)``): a rich bar on a
    terminal, plain lines elsewhere, nothing when not ``enabled``."""
    console = console or _stderr
    if not enabled:
        yield _Silent()
    elif console.is_terminal:
        columns = (
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn(f"{{task.completed}} / {{task.total}} {unit}"), TimeElapsedColumn(),
            TimeRemainingColumn(),
        )  # fmt: skip
        with Progress(*columns, console=console, transient=transient) as progress:
            yield _Bar(progress, progress.add_task(description, total=total))
    else:
        with _Lines(console, description, total, unit, period_s) as lines:
            yield lines


@contextmanager
def status(
    text: str, console: Console | None = None, period_s: float = PERIOD_S
) -> Iterator[_Lines | Any]:
    """What a job is doing as text (``update(text)``): rich's spinner on a terminal, plain
    lines elsewhere."""
    console = console or _stderr
    if console.is_terminal:
        with console.status(text) as spinner:
            yield spinner
    else:
        with _Lines(console, text, None, "", period_s) as lines:
            yield lines


def warn_noisy(
    noisy: dict[str, str], consequence: str = "measure again on an idle machine"
) -> None:
    """One warning line per timing that stayed implausible after re-measuring (the rule of
    ``profile.measure.implausible_stats``, the same for every command that measures)."""
    from edgesplit.profile.measure import RETRIES  # imports torch: only when measured

    for what, reason in noisy.items():
        _stderr.print(
            f"[yellow]warning:[/] {what} stayed implausible after {RETRIES} re-measurements "
            f"({reason}); {consequence}",
            highlight=False,
        )
