"""What ``edgesplit reproduce``'s experiments share: the ``Experiment`` record, one episode of a
scenario changed by a task's settings, per-setting means and ratios, and saving a figure.

An experiment lists its tasks (settings x deciders x seeds; ``quick`` is a CI-sized subset), runs
them through ``sweep.run_sweep`` (local worker processes or Ray: the same results either way)
and reports them beside the paper's claim. Experiments call the library; they contain no
algorithm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesplit.experiments.sweep import Task
from edgesplit.policies.registry import is_learner, make_policy
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import Scenario, load_scenario

Row = dict[str, float]
Result = Row | list[dict]  # one CSV row, or several (a task that yields a table)


@dataclass(frozen=True)
class Experiment:
    """A named experiment: its tasks, the function of one task, and its report (which saves
    its figures into the output folder and returns markdown that embeds them)."""

    name: str
    source: str  # the paper's figure or table it reproduces or questions
    about: str
    tasks: Callable[[bool, int | None], list[Task]]  # (quick, seeds) -> tasks
    run: Callable[[Task], Result]  # module-level: the sweep ships it to workers
    report: Callable[[list[Task], list[Result], Path], str]
    serial: bool = False  # it measures wall time or runs real processes: one task at a time


def task_scenario(task: Task):
    """``task["scenario"]`` changed by the task's optional settings:

    - ``bandwidth_hz``: every channel's (the noise grows with it: the scenario's noise power per
      hertz is kept, as thermal noise does); ``channels``: their number; ``shadowing_std_db``;
    - ``time_slot_s``: zhang2026's system decided every that many seconds (the time-based MDP);
    - ``input_bits``, ``mean_tasks`` (zhang2026), ``model``, ``arrivals_per_slot`` (shi2025: the
      range of tasks per slot): every device's;
    - ``beta`` (zhang2026 Eq. 8's energy weight), ``v`` (shi2025 Eq. 10's weight),
      ``granularity`` (where the DNNs may be cut);
    - ``devices``: that many devices, the scenario's device types taken in turn (device i is of
      type i mod the number of types); ``servers``: that many of the first server type.
    """
    scenario = load_scenario(task["scenario"])
    update = {}
    if "bandwidth_hz" in task:  # the noise density stays: the noise grows with the bandwidth
        update["radio"] = scenario.radio.model_copy(update={"bandwidth_hz": task["bandwidth_hz"]})
    for field in ("channels", "shadowing_std_db"):
        if field in task:
            radio = update.get("radio", scenario.radio)
            update["radio"] = radio.model_copy(update={field: task[field]})
    if "time_slot_s" in task:  # zhang2026's system decided at fixed slots (Fig. 7)
        update.update(style="time_slot", time_slot_s=task["time_slot_s"])
    for field in ("input_bits", "mean_tasks", "model"):
        if field in task:
            update["devices"] = [
                d.model_copy(update={field: task[field]})
                for d in update.get("devices", scenario.devices)
            ]
    if "granularity" in task:
        update["granularity"] = task["granularity"]
    if "beta" in task:
        update["window_reward"] = scenario.window_reward.model_copy(update={"beta": task["beta"]})
    if "v" in task:
        update["slot_reward"] = scenario.slot_reward.model_copy(update={"v": task["v"]})
    if "devices" in task:
        kinds = update.get("devices", scenario.devices)
        update["devices"] = [
            kind.model_copy(update={"count": len(range(i, task["devices"], len(kinds)))})
            for i, kind in enumerate(kinds[: task["devices"]])
        ]
    if "servers" in task:
        update["servers"] = [scenario.servers[0].model_copy(update={"count": task["servers"]})]
    if "arrivals_per_slot" in task:
        update["devices"] = [
            d.model_copy(update={"arrivals_per_slot": list(task["arrivals_per_slot"])})
            for d in update.get("devices", scenario.devices)
        ]
    return scenario.model_copy(update=update)


def scenario_steps(task: Task) -> list[tuple[float, dict]]:
    """The (reward, info) steps of one episode of ``task["policy"]`` on ``task_scenario(task)``
    from ``task["seed"]`` (a learner: trained first, ``trained_run``)."""
    from edgesplit.policies.evaluate import episode_steps

    with task_policy(task) as (scenario, policy):
        return episode_steps(policy, decision_env(scenario), task["seed"])


def scenario_episode(task: Task) -> Row:
    """The episode metrics (``policies.evaluate.episode_metrics``) of ``task["policy"]`` on
    ``task_scenario(task)``: of the one episode from ``task["seed"]``, or, with
    ``task["test_episodes"]`` = n, their means over test seeds 0..n-1 (``policies.evaluate.
    evaluate``). A learner is trained once, from ``task["seed"]`` (``trained_run``): with
    ``test_episodes`` one training is evaluated on the seeds a sweep runs its deciders on."""
    from edgesplit.policies.evaluate import episode_metrics, evaluate

    if "test_episodes" not in task:
        return episode_metrics(scenario_steps(task))
    with task_policy(task) as (scenario, policy):
        [summary] = evaluate({task["policy"]: lambda: policy}, scenario, task["test_episodes"], 0)
    return summary.mean


def pyplot():
    """matplotlib's pyplot on the file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def means(
    tasks: list[Task],
    results: list[dict[str, float]],
    key: Callable[[Task], tuple],
    metrics: tuple[str, ...],
) -> dict[tuple, dict[str, float]]:
    """Per ``key(task)``: the mean of each metric over the tasks with that key (the seeds)."""
    cells: dict[tuple, list[dict[str, float]]] = {}
    for task, result in zip(tasks, results, strict=True):
        cells.setdefault(key(task), []).append(result)
    return {
        k: {m: float(np.mean([r[m] for r in runs])) for m in metrics} for k, runs in cells.items()
    }


def ratios(tasks: list[Task], results: list[dict[str, float]], setting: Callable[[Task], tuple]):
    """Per (setting, decider): mean total latency and energy per task, and their ratios to the
    local decider's in the same setting."""
    metrics = ("total_latency_s", "energy_per_task_j")
    mean = means(tasks, results, lambda t: (*setting(t), t["policy"]), metrics)
    out = {}
    for key, cell in mean.items():
        local = mean[(*key[:-1], "local")]
        latency, energy = (cell[m] for m in metrics)
        out[key] = (latency, latency / local[metrics[0]], energy, energy / local[metrics[1]])
    return out


# the paper and figure the experiment being reported reproduces (its ``source``, set by
# ``reproduce``): every figure it saves is titled with it
FIGURE_SOURCE: ContextVar[str] = ContextVar("figure_source", default="")
# line styles by curve index, so that curves drawn on top of each other stay visible
LINE_STYLES = (
    {"linestyle": "-", "marker": "o", "markevery": 5, "markersize": 4},
    {"linestyle": "--", "marker": "s", "markevery": 7, "markersize": 4},
    {"linestyle": ":", "marker": "^", "markevery": 6, "markersize": 5, "linewidth": 2},
    {"linestyle": "-.", "marker": "x", "markevery": 4, "markersize": 5},
    {"linestyle": (0, (1, 2)), "marker": "D", "markevery": 3, "markersize": 3, "linewidth": 2},
)


def save_png(figure, out: Path, name: str) -> str:
    """Save ``figure`` as ``out/name.png`` titled with ``FIGURE_SOURCE``, close it, and return
    the markdown that embeds it."""
    from edgesplit.experiments.plots import save_figure  # imports matplotlib

    save_figure(figure, FIGURE_SOURCE.get(), out / f"{name}.png")
    return image_link(name)


def image_link(name: str) -> str:
    """The markdown that embeds ``name.png`` (beside the markdown file)."""
    return f"![{name}]({name}.png)"


def page(claim: str, lines: list[str], *images: str) -> str:
    """A report's markdown: the paper's claim, the table lines, the embedded figures."""
    return "\n\n".join([claim, "\n".join(lines), *images])


@contextmanager
def trained_run(task: Task) -> Iterator[tuple[Scenario, Path | None]]:
    """``task_scenario(task)`` and a temporary run folder of learner ``task["policy"]`` trained
    on it for ``task["steps"]`` steps from ``task["seed"]`` (one torch thread: sweeps run tasks
    side by side); the folder is None for a decider that does not learn."""
    import tempfile

    import torch

    from edgesplit.policies.training import train_policy

    scenario = task_scenario(task)
    if not is_learner(task["policy"]):
        yield scenario, None
        return
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        train_policy(task["policy"], scenario, task["steps"], task["seed"], folder,
                     show_progress=False)  # fmt: skip
        yield scenario, Path(folder)


def learning_curve(task: Task) -> list[dict]:
    """One row per training episode of ``trained_run(task)`` (kind ``episode``: its return) and
    per evaluation (kind ``evaluation``: the mean score on the trainer's held-out seeds). A
    policy that does not learn gets one evaluation row on the same seeds, at step 0: the line a
    learner is compared with."""
    import csv

    from edgesplit.policies.evaluate import SCORE_OF_STYLE, evaluate
    from edgesplit.policies.training import EVAL_EPISODES, EVAL_SEED_BASE

    with trained_run(task) as (scenario, folder):
        if folder is None:
            build = {task["policy"]: lambda: make_policy(task["policy"], scenario)}
            [summary] = evaluate(build, scenario, EVAL_EPISODES, EVAL_SEED_BASE)
            score = summary.mean[SCORE_OF_STYLE[scenario.style]]
            return [{"kind": "evaluation", "step": 0, "value": score}]
        with (folder / "episodes.csv").open() as handle:
            rows = [{"kind": "episode", "step": int(r["step"]), "value": float(r["return"])}
                    for r in csv.DictReader(handle)]  # fmt: skip
        with (folder / "eval.csv").open() as handle:
            rows += [{"kind": "evaluation", "step": int(r["step"]), "value": float(r["score"])}
                     for r in csv.DictReader(handle)]  # fmt: skip
    return rows


@contextmanager
def task_policy(task: Task):
    """``task_scenario(task)`` and the policy ``task["policy"]`` for it; a learner is trained
    first (``trained_run``) and its best evaluated policy file loaded."""
    with trained_run(task) as (scenario, folder):
        checkpoint = None if folder is None else folder / "best.pt"
        yield scenario, make_policy(task["policy"], scenario, checkpoint=checkpoint)


def learning_report(name: str, label: Callable[[Task], str], claim: str) -> Callable:
    """The report of a convergence experiment (tasks of ``learning_curve``): per setting
    (``label(task)``, seeds pooled) the mean return of the first and last tenth of the training
    episodes and the last evaluation, and the figure of the returns over the episodes."""

    def report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
        plt = pyplot()
        curves: dict[str, list[list[float]]] = {}
        finals: dict[str, list[float]] = {}
        for task, rows in zip(tasks, results, strict=True):
            returns = [r["value"] for r in rows if r["kind"] == "episode"]
            if returns:
                curves.setdefault(label(task), []).append(returns)
            finals.setdefault(label(task), []).append(
                [r["value"] for r in rows if r["kind"] == "evaluation"][-1]
            )
        lines = [
            "| setting | training episodes | first tenth's mean return | last tenth's | "
            "last evaluation |",
            "|---|---:|---:|---:|---:|",
        ]
        figure, axis = plt.subplots(figsize=(7.2, 4.0))
        dashes, smoothed = iter(("--", ":", "-.", (0, (5, 1)))), []
        highest = max(float(np.mean(final)) for final in finals.values())
        for index, (setting, final) in enumerate(finals.items()):
            runs = curves.get(setting)
            if runs is None:  # a decider that does not learn: its evaluation as a line
                axis.axhline(np.mean(final), color="grey", lw=1.2, ls=next(dashes, "--"),
                             label=f"{setting} (its evaluation)")  # fmt: skip
                lines.append(f"| {setting} | - | - | - | {np.mean(final):.4g} |")
                continue
            length = min(len(r) for r in runs)
            curve = np.mean([r[:length] for r in runs], axis=0)
            tenth = max(length // 10, 1)
            lines.append(
                f"| {setting} | {length} | {curve[:tenth].mean():.4g} | "
                f"{curve[-tenth:].mean():.4g} | {np.mean(final):.4g} |"
            )
            # long runs: the raw returns faint, their running median (a fiftieth of the run) on
            # top, so that a few episodes that collide for hours do not flatten every curve
            span = max(length // 50, 1)
            median = np.array(
                [np.median(curve[max(0, i - span + 1) : i + 1]) for i in range(length)]
            )
            episodes = np.arange(1, length + 1)
            if span > 1:
                axis.plot(episodes, curve, color=f"C{index}", alpha=0.2, lw=0.8)
            highest = max(highest, float(curve.max()))
            said = setting if span == 1 else f"{setting} (running median of {span})"
            axis.plot(episodes, median, color=f"C{index}", label=said)
            smoothed.append(curve)
        every = np.concatenate(smoothed) if smoothed else np.zeros(1)
        typical = float(np.median(np.abs(every)))
        spread = np.abs(every).max() > 100 * typical  # outliers beyond two decades: symlog
        if spread:  # linear around the typical returns, logarithmic beyond them
            axis.set_yscale("symlog", linthresh=max(typical, 1e-9))
            axis.set_ylim(top=max(highest, 0.0) + typical)  # no empty decades above the data
        axis.set_xlabel("training episode")
        axis.set_ylabel("episode return" + (" (symlog)" if spread else ""))
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        image = save_png(figure, out, name)
        return page(claim, lines, image)

    return report


def live_run(task: Task) -> Row:
    """``task["policy"]`` run live for ``task["duration_s"]`` seconds on ``task_scenario(task)``
    (``testbed``: across the testbed's emulated hosts, else on 127.0.0.1): per task the measured
    E2E latency and each component against the cost model's prediction for it (means over the
    tasks that ran as decided), the offloaded share, the modelled device energy per task and the
    accounting."""
    from edgesplit.runtime.launcher import LiveConfig, run_live
    from edgesplit.runtime.report import COMPONENTS, component

    scenario = task_scenario(task)
    report = run_live(
        LiveConfig(
            scenario, task["policy"], devices=scenario.device_count,
            duration_s=task["duration_s"], seed=task["seed"], testbed=task.get("testbed", False),
        )
    )  # fmt: skip
    tasks = report["tasks"]
    predicted_tasks = [t for t in tasks if t["predicted"] is not None]
    measured = np.array([t["latency_s"] for t in predicted_tasks])
    predicted = np.array([t["predicted"]["latency_s"] for t in predicted_tasks])
    decided = [t for t in predicted_tasks if t["fallback"] is None]
    energy = sum(row["energy_j_modelled"] for row in report["per_device"])
    row = {
        "done": len(tasks),
        "not_run": report["totals"]["not_run"],
        "offloaded_share": report["totals"]["offloaded"] / max(len(tasks), 1),
        "measured_latency_s": float(measured.mean()),
        "predicted_latency_s": float(predicted.mean()),
        "median_abs_error_pct": float(100 * np.median(np.abs(measured / predicted - 1))),
        "energy_per_task_j": energy / max(len(tasks), 1),
    }
    for ours, theirs in COMPONENTS[:-1]:
        row[f"measured_{ours}"] = float(np.mean([component(t, ours) for t in decided]))
        row[f"predicted_{ours}"] = float(np.mean([t["predicted"][theirs] for t in decided]))
    return row
