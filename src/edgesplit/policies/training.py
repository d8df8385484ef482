"""The training loop's bookkeeping, shared by every learner: steps, episode seeds, a rich progress
bar, CSV logs (episodes and periodic evaluations), checkpoints, resuming and Ctrl-C.

A learner's ``train(trainer)`` owns its update rule and calls ``trainer.record_reward`` after each
env step and ``trainer.advance(policy, state_fn)`` once per step; ``state_fn()`` returns what a
checkpoint must hold beyond the trainer's own state (networks, optimizers, buffers). Checkpoints
hold plain data only (``policies.common.checkpoint``): the env's ``get_state``, never the env.
"""

from __future__ import annotations

import csv
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from edgesplit.checks import whole_number
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.policies.base import Policy
from edgesplit.policies.common import load_checkpoint, save_checkpoint
from edgesplit.policies.common.checkpoint import scenario_hash
from edgesplit.policies.evaluate import SCORE_OF_STYLE, run_episode
from edgesplit.policies.registry import is_learner, make_policy, policy_names
from edgesplit.policies.run_folder import check_resume, manifest_of, run_lock, start_run
from edgesplit.progress import bar
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import Scenario, load_scenario

EVAL_SEED_BASE = 1_000_000  # evaluation episodes never reuse a training seed
EVAL_EPISODES = 2  # episodes per periodic evaluation, by default
LOGS = ("episodes.csv", "eval.csv")  # appended as a run goes; cut back to a checkpoint on resume


def check_schedule(steps: int, eval_every: int, eval_episodes: int) -> None:
    """A run's step count and evaluation schedule, each a whole number >= 1."""
    for field, value in (("steps", steps), ("eval_every", eval_every),
                         ("eval_episodes", eval_episodes)):  # fmt: skip
        whole_number(field, value, 1)


class TrainingInterrupted(EdgesplitError):
    """Ctrl-C stopped a run; the checkpoint was saved first (the message says where and how to
    continue)."""


class Trainer:
    """Runs one learner for ``total_steps`` env steps into ``out_dir``."""

    def __init__(
        self,
        env: gym.Env,
        total_steps: int,
        seed: int,
        out_dir: str | Path,
        eval_every: int,
        eval_episodes: int,
        evaluate: Callable[[Policy, int], float],
        resume: bool = False,
        show_progress: bool = True,
    ) -> None:
        check_schedule(total_steps, eval_every, eval_episodes)
        self.env, self.total_steps, self.seed = env, total_steps, seed
        self.out_dir = Path(out_dir)
        self.eval_every, self.eval_episodes, self._evaluate = eval_every, eval_episodes, evaluate
        self.resume, self.show_progress = resume, show_progress
        self.rng = np.random.default_rng(seed)
        self.step, self.episodes, self._return, self._wall_s = 0, 0, 0.0, 0.0
        self.best_score = -np.inf  # the best evaluation so far, whose policy is in best.pt
        self._state_fn: Callable[[], dict] | None = None
        self._policy: Policy | None = None
        self._progress: Any = None
        self._started = time.perf_counter()
        self._interrupted = False  # Ctrl-C seen: stop at the end of this step
        self.checkpoint_path = self.out_dir / "checkpoint.pt"

    # -- used by learners ----------------------------------------------------------------------

    def resume_state(self) -> dict[str, Any] | None:
        """The learner's saved state when resuming; the trainer restores its own and its env
        (mid-episode), so a resumed run continues exactly where the checkpoint was taken."""
        if not self.resume:
            return None
        if not self.checkpoint_path.is_file():  # stopped before its first checkpoint: start over
            for name in LOGS:
                (self.out_dir / name).unlink(missing_ok=True)
            return None
        state = load_checkpoint(self.checkpoint_path)
        trainer = state["trainer"]
        for name, size in trainer["log_bytes"].items():  # rows written after the checkpoint go
            path = self.out_dir / name
            if path.is_file():
                with path.open("r+b") as handle:
                    handle.truncate(size)
        self.step, self.episodes = trainer["step"], trainer["episodes"]
        self._wall_s, self._return = trainer["wall_s"], trainer["episode_return"]
        self.best_score = trainer.get("best_score", -np.inf)
        self.env.unwrapped.set_state(state["env"])  # mid-episode, its generator included
        self.rng.bit_generator.state = trainer["rng"]
        torch.set_rng_state(trainer["torch_rng"])
        return state["learner"]

    def episode_seed(self) -> int:
        return self.seed * 100_003 + self.episodes

    def record_reward(self, reward: float, episode_done: bool) -> None:
        self._return += reward
        if episode_done:
            self.episodes += 1
            self._append("episodes.csv", ("step", "episode", "return"),
                         (self.step + 1, self.episodes, self._return))  # fmt: skip
            self._return = 0.0

    def advance(self, policy: Policy, state_fn: Callable[[], dict]) -> None:
        """The end of a step: evaluate and checkpoint on schedule; after a Ctrl-C, save here,
        where the learner's, the env's and the logs' states agree, and stop."""
        self.step += 1
        self._policy, self._state_fn = policy, state_fn
        if self._progress is not None:
            self._progress.update(completed=self.step)
        if self.step % self.eval_every == 0 or self.step == self.total_steps:
            score = float(
                np.mean([self._evaluate(policy, EVAL_SEED_BASE + i)
                         for i in range(self.eval_episodes)])
            )  # fmt: skip
            self._append("eval.csv", ("step", "wall_s", "score"), (self.step, self.wall_s, score))
            if score > self.best_score:
                self.best_score = score
                self._write_policy("best.pt")
            self.save()
            if self._progress is not None:
                self._progress.update(f"training (evaluated {score:.4g} at step {self.step})")
        if self._interrupted:
            self.save()
            raise TrainingInterrupted(
                f"interrupted at step {self.step} of {self.total_steps}: saved "
                f"{self.checkpoint_path}; continue with the same command and --resume"
            )

    # -- driving -------------------------------------------------------------------------------

    @property
    def wall_s(self) -> float:
        return self._wall_s + time.perf_counter() - self._started

    def run(self, policy: Policy) -> None:
        """``policy.train(self)`` with a progress bar. The first Ctrl-C stops the run at the end
        of the step it came in (``advance`` saves there); a second one stops at once, and the
        last checkpoint stays (a resume drops what was logged after it)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with (
            bar("training", self.total_steps, "steps", self.show_progress) as progress,
            self._deferred_interrupt(),
        ):
            self._progress = progress
            try:
                policy.train(self)
            except KeyboardInterrupt:
                kept = "no checkpoint was saved yet"
                if self.checkpoint_path.is_file():
                    step = load_checkpoint(self.checkpoint_path)["trainer"]["step"]
                    kept = (
                        f"the checkpoint of step {step} stays in {self.checkpoint_path}; continue "
                        "with the same command and --resume"
                    )
                raise TrainingInterrupted(f"interrupted at once: {kept}") from None
            finally:
                self._progress = None

    @contextmanager
    def _deferred_interrupt(self) -> Iterator[None]:
        """In the main thread, a first SIGINT only asks the run to stop at the end of its step;
        the next is Python's KeyboardInterrupt."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask(signum: int, frame: Any) -> None:
            self._interrupted = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, ask)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def save(self) -> None:
        """Write the checkpoint (resumable) and the latest policy file, each atomically."""
        if self._state_fn is None or self._policy is None:
            return
        state = {
            "trainer": {
                "step": self.step, "episodes": self.episodes, "wall_s": self.wall_s,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "episode_return": self._return, "best_score": self.best_score,
                "log_bytes": {
                    name: (self.out_dir / name).stat().st_size if (self.out_dir / name).is_file()
                    else 0 for name in LOGS
                },
            },
            "env": self.env.unwrapped.get_state(),
            "learner": self._state_fn(),
        }  # fmt: skip
        save_checkpoint(self.checkpoint_path, state)
        self._write_policy("policy.pt")

    def _write_policy(self, name: str) -> None:
        self._policy.save(self.out_dir / name)  # the file and its .json, each atomically

    def _append(self, name: str, header: tuple[str, ...], row: tuple) -> None:
        path = self.out_dir / name
        fresh = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if fresh:
                writer.writerow(header)
            writer.writerow(row)


def train_policy(
    name: str,
    scenario: str | Scenario,
    steps: int,
    seed: int,
    out_dir: str | Path,
    resume: bool = False,
    eval_every: int | None = None,
    eval_episodes: int = EVAL_EPISODES,
    show_progress: bool = True,
    settings: dict[str, str] | None = None,
) -> Path:
    """Train learner ``name`` on ``scenario`` into ``out_dir`` (eval.csv, episodes.csv,
    checkpoint.pt, policy.pt: the latest, best.pt: the best evaluated, each policy file with its
    .json); returns policy.pt. ``settings`` set fields of the learner's config (as text);
    ``scenario``: a preset's name, a YAML file or a ``Scenario``."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not is_learner(name):
        learners = [n for n in policy_names(loaded.style) if is_learner(n)]
        raise InvalidParameterError("policy", name, f"a learner: {', '.join(learners)}")
    eval_every = (
        max(steps // 10, 1) if eval_every is None and isinstance(steps, int) else eval_every
    )
    check_schedule(steps, eval_every, eval_episodes)  # before the folder is claimed
    policy = make_policy(name, loaded, seed, settings=settings)
    out = Path(out_dir)
    data = loaded.model_dump(mode="json")
    schedule = {"eval_every": eval_every, "eval_episodes": eval_episodes}  # --steps may grow
    manifest = manifest_of(
        name, {"name": loaded.name, "sha256": scenario_hash(data)}, asdict(policy.config), seed,
        schedule,
    )  # fmt: skip
    if resume:
        check_resume(out, manifest)
    else:
        start_run(out, manifest)
    with run_lock(out):
        env = policy.training_env()
        eval_env = decision_env(loaded)
        trainer = Trainer(
            env, steps, seed, out, eval_every, eval_episodes,
            lambda p, s: run_episode(p, eval_env, s)[SCORE_OF_STYLE[loaded.style]], resume,
            show_progress,
        )  # fmt: skip
        trainer.run(policy)
    return out / "policy.pt"
