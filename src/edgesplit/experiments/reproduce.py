"""``edgesplit reproduce``: the source papers' figures and tables as named, seeded, re-runnable
experiments, their output next to the papers' numbers.

An experiment lists its tasks (settings x deciders x seeds; ``quick`` is a CI-sized subset),
runs them through ``sweep.run_sweep`` (local worker processes or Ray: the same results either
way) and writes into its output folder NAME.csv (one row per task), NAME.png and NAME.md (the
table beside the paper's claim, with the command, the versions, the machine and the wall time).
Experiments call the library; they contain no algorithm.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from edgesplit.errors import InvalidParameterError
from edgesplit.experiments.sweep import Task, run_sweep
from edgesplit.profile.measure import machine_description


@dataclass(frozen=True)
class Experiment:
    """A named experiment: its tasks, the function of one task, and its report."""

    name: str
    source: str  # the paper's figure or table it reproduces or questions
    about: str
    tasks: Callable[[bool, int | None], list[Task]]  # (quick, seeds) -> tasks
    run: Callable[[Task], dict[str, float]]  # module-level: the sweep ships it to workers
    report: Callable[[list[Task], list[dict[str, float]], Path], str]  # PNG -> markdown


# zhang2026 Table IV, 50 tasks: EMH-PPO against local-only inference
TABLE_IV_LATENCY_RATIO = 787.81 / 2150.75
TABLE_IV_ENERGY_RATIO = 0.0251 / 0.0409


def jpeg_input_bits(side: int = 224, quality: int = 75) -> int:
    """The mean size in bits of scikit-learn's two sample photographs resized to ``side`` x
    ``side`` and JPEG-encoded by Pillow at ``quality`` (its default): a measured "JPEG-sized"
    input instead of the raw 8-bit one (side x side x 3 x 8 bits)."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    sizes = []
    for photo in load_sample_images().images:
        buffer = io.BytesIO()
        Image.fromarray(photo).resize((side, side), Image.BILINEAR).save(
            buffer, format="JPEG", quality=quality
        )
        sizes.append(len(buffer.getvalue()) * 8)
    return int(np.rint(np.mean(sizes)))


def _bandwidth_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenario = "zhang2026-small" if quick else "zhang2026"
    bandwidths = (1e6, 1e8) if quick else (1e6, 1e7, 3e7, 1e8)
    encodings = {"raw 8-bit": 224 * 224 * 3 * 8}
    if not quick:
        encodings["JPEG"] = jpeg_input_bits()
    deciders = ("local", "repeated-optimum") if quick else ("local", "repeated-optimum", "planner")
    return [
        {"scenario": scenario, "bandwidth_hz": b, "encoding": e, "input_bits": bits,
         "policy": p, "seed": s}
        for b in bandwidths for e, bits in encodings.items() for p in deciders
        for s in range(seeds or (1 if quick else 5))
    ]  # fmt: skip


def scenario_episode(task: Task) -> dict[str, float]:
    """One episode of ``task["policy"]`` on ``task["scenario"]`` changed by the task's optional
    settings: ``bandwidth_hz`` (every channel; the noise grows with it, the scenario's noise
    power per hertz kept, as thermal noise does), ``input_bits`` (every device's input),
    ``beta`` (zhang2026 Eq. 8's energy weight), ``arrivals_per_slot`` (shi2025: every
    device's range of tasks per slot), ``devices`` and ``servers`` (that many of the first
    device and server of the scenario)."""
    from edgesplit.policies.evaluate import run_episode
    from edgesplit.policies.registry import make_policy
    from edgesplit.sim import decision_env
    from edgesplit.sim.scenario import load_scenario

    scenario = load_scenario(task["scenario"])
    update = {}
    if "bandwidth_hz" in task:
        per_hz = scenario.radio.noise_w / scenario.radio.bandwidth_hz
        update["radio"] = scenario.radio.model_copy(
            update={"bandwidth_hz": task["bandwidth_hz"], "noise_w": per_hz * task["bandwidth_hz"]}
        )
    if "input_bits" in task:
        update["devices"] = [
            d.model_copy(update={"input_bits": task["input_bits"]}) for d in scenario.devices
        ]
    if "beta" in task:
        update["window_reward"] = scenario.window_reward.model_copy(update={"beta": task["beta"]})
    if "devices" in task:  # that many devices of the first device group, the others dropped
        update["devices"] = [
            d.model_copy(update={"count": task["devices"]})
            for d in update.get("devices", scenario.devices)[:1]
        ]
    if "servers" in task:
        update["servers"] = [scenario.servers[0].model_copy(update={"count": task["servers"]})]
    if "arrivals_per_slot" in task:
        update["devices"] = [
            d.model_copy(update={"arrivals_per_slot": list(task["arrivals_per_slot"])})
            for d in update.get("devices", scenario.devices)
        ]
    scenario = scenario.model_copy(update=update)
    policy = make_policy(task["policy"], scenario)
    return run_episode(policy, decision_env(scenario), task["seed"])


def _pyplot():
    """matplotlib's pyplot on the file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _means(
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


def _ratios(tasks: list[Task], results: list[dict[str, float]], setting: Callable[[Task], tuple]):
    """Per (setting, decider): mean total latency and energy per task, and their ratios to the
    local decider's in the same setting."""
    metrics = ("total_latency_s", "energy_per_task_j")
    mean = _means(tasks, results, lambda t: (*setting(t), t["policy"]), metrics)
    out = {}
    for key, cell in mean.items():
        local = mean[(*key[:-1], "local")]
        latency, energy = (cell[m] for m in metrics)
        out[key] = (latency, latency / local[metrics[0]], energy, energy / local[metrics[1]])
    return out


def _beta_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenario = "zhang2026-small" if quick else "zhang2026"
    betas = (1.0, 500.0) if quick else (1.0, 5.0, 10.0, 50.0, 100.0, 500.0)
    deciders = ("local", "repeated-optimum") if quick else ("local", "repeated-optimum", "planner")
    return [
        {"scenario": scenario, "beta": b, "policy": p, "seed": s}
        for b in betas for p in deciders for s in range(seeds or (1 if quick else 5))
    ]  # fmt: skip


def _beta_report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
    plt = _pyplot()
    ratios = _ratios(tasks, results, lambda t: (t["beta"],))
    lines = [
        "| beta | decider | total latency (s) | % of local | energy per task (J) | % of local |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for policy in dict.fromkeys(t["policy"] for t in tasks):
        points = [(b, *ratios[(b, p)]) for b, p in ratios if p == policy]
        for beta, latency, latency_ratio, energy, energy_ratio in points:
            lines.append(
                f"| {beta:g} | {policy} | {latency:.3g} | {100 * latency_ratio:.0f} % | "
                f"{energy:.3g} | {100 * energy_ratio:.1f} % |"
            )
        if policy != "local":
            axis.plot([100 * p[2] for p in points], [100 * p[4] for p in points], "o-",
                      label=policy)  # fmt: skip
            for beta, _, latency_ratio, _, energy_ratio in points:
                axis.annotate(f"{beta:g}", (100 * latency_ratio, 100 * energy_ratio), fontsize=7)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("total latency, % of local only")
    axis.set_ylabel("energy per task, % of local only")
    axis.set_title("beta (annotated) trades latency for energy")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "zhang2026-beta.png", dpi=120)
    plt.close(figure)
    claim = (
        "zhang2026 Fig. 12 (EMH-PPO): as beta grows energy falls and latency rises; at beta = "
        "500 the energy is about 47 % of local-only's and the latency about 2.5 % above its "
        "value at beta = 50. Here: the mean over the seeds of each decider's total latency and "
        "energy per task, as % of local-only's."
    )
    return claim + "\n\n" + "\n".join(lines)


def _bandwidth_report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
    plt = _pyplot()
    ratios = _ratios(tasks, results, lambda t: (t["bandwidth_hz"], t["encoding"]))
    lines = [
        "| bandwidth | input | decider | total latency (s) | vs local | energy per task (J) "
        "| vs local | lower latency and energy than local |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for (bandwidth, encoding, policy), cell in ratios.items():
        latency, latency_ratio, energy, energy_ratio = cell
        both = "yes" if latency_ratio < 1 and energy_ratio < 1 else "no"
        lines.append(
            f"| {bandwidth / 1e6:g} MHz | {encoding} | {policy} | {latency:.3g} | "
            f"{latency_ratio:.3g} | {energy:.3g} | {energy_ratio:.3g} | {both} |"
        )
        if policy != "local":
            marker = "o" if encoding.startswith("raw") else "s"
            axis.scatter(latency_ratio, energy_ratio, marker=marker, label=f"{policy}, "
                         f"{encoding}, {bandwidth / 1e6:g} MHz")  # fmt: skip
    axis.scatter(TABLE_IV_LATENCY_RATIO, TABLE_IV_ENERGY_RATIO, marker="*", s=160, color="black",
                 label="zhang2026 Table IV (EMH-PPO)")  # fmt: skip
    axis.axvline(1, color="grey", lw=0.8)
    axis.axhline(1, color="grey", lw=0.8)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("total latency / local only")
    axis.set_ylabel("energy per task / local only")
    axis.legend(fontsize=6, loc="best")
    figure.tight_layout()
    figure.savefig(out / "zhang2026-bandwidth.png", dpi=120)
    plt.close(figure)
    claim = (
        f"zhang2026 Table IV (50 tasks): EMH-PPO at {TABLE_IV_LATENCY_RATIO:.2f} of local-only's "
        f"total latency and {TABLE_IV_ENERGY_RATIO:.2f} of its energy per task, with Table III's "
        "1 MHz channels and a 1.2 Mbit input. Here: the mean over the seeds of each decider's "
        "total latency and energy per task, and their ratios to local-only's; the noise grows "
        "with the bandwidth (1e-9 W per MHz)."
    )
    return claim + "\n\n" + "\n".join(lines)


# shi2025 Fig. 8: DDP's largest energy reductions over the arrival rates, against each baseline
FIG8_REDUCTION = {"dads+ta": 0.127, "dads+bs": 0.179, "eo+ta": 0.277, "eo+bs": 0.385}


def _arrival_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenarios = ("shi2025-5g",) if quick else ("shi2025-wifi", "shi2025-5g")
    rates = ((10, 20), (40, 50)) if quick else ((10, 20), (20, 30), (30, 40), (40, 50))
    deciders = ("eo+bs", "eo+ta", "dads+bs", "dads+ta", "optimum")
    deciders = ("eo+ta", "optimum") if quick else deciders
    return [
        {"scenario": c, "arrivals_per_slot": r, "policy": p, "seed": s}
        for c in scenarios for r in rates for p in deciders
        for s in range(seeds or (1 if quick else 3))
    ]  # fmt: skip


def _arrival_report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
    plt = _pyplot()
    key = lambda t: (t["scenario"], tuple(t["arrivals_per_slot"]), t["policy"])  # noqa: E731
    energy = {k: v["energy_j"] for k, v in _means(tasks, results, key, ("energy_j",)).items()}
    scenarios = list(dict.fromkeys(t["scenario"] for t in tasks))
    policies = list(dict.fromkeys(t["policy"] for t in tasks))
    lines = [
        "| network | tasks per slot | " + " | ".join(policies) + " |",
        "|---|---|" + "---:|" * len(policies),
    ]
    figure, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 3.6))
    for axis, scenario in zip(np.atleast_1d(axes), scenarios, strict=True):
        rates = list(dict.fromkeys(k[1] for k in energy if k[0] == scenario))
        for rate in rates:
            row = " | ".join(f"{energy[(scenario, rate, p)]:.3g}" for p in policies)
            lines.append(f"| {scenario} | {rate[0]}-{rate[1]} | {row} |")
        for policy in policies:
            axis.plot([np.mean(r) for r in rates], [energy[(scenario, r, policy)] for r in rates],
                      "o-", label=policy)  # fmt: skip
        axis.set_title(scenario)
        axis.set_xlabel("tasks per device and slot (mean)")
        axis.set_ylabel("energy per device and slot (J)")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "shi2025-arrivals.png", dpi=120)
    plt.close(figure)
    lines += [
        "",
        "| baseline | DDP's largest reduction (Fig. 8) | `optimum`'s largest reduction here |",
        "|---|---:|---:|",
    ]
    for baseline, paper in FIG8_REDUCTION.items():
        if baseline in policies and "optimum" in policies:
            ours = max(
                1 - energy[(c, r, "optimum")] / energy[(c, r, baseline)]
                for c, r, p in energy if p == baseline
            )  # fmt: skip
            lines.append(f"| {baseline} | {100 * paper:.1f} % | {100 * ours:.1f} % |")
    claim = (
        "shi2025 Fig. 8: DDP has the lowest average energy per device as the arrival rate grows, "
        "up to 12.7 %, 17.9 %, 27.7 % and 38.5 % below DADS + TA, DADS + BS, EO + TA and EO + BS. "
        "Here: energy per device and slot (J), the mean over the seeds of 120-slot episodes; "
        "`optimum` (the exact per-slot utility maximiser) stands where the paper has DDP, which "
        "needs training."
    )
    return claim + "\n\n" + "\n".join(lines)


def _count_tasks(axis: str, counts: tuple[int, ...], fixed: dict) -> Callable:
    """Tasks of zhang2026 with ``axis`` (devices or servers) over ``counts`` and the other at
    ``fixed``; quick: the first two counts, local and planner, one seed."""

    def tasks(quick: bool, seeds: int | None) -> list[Task]:
        deciders = ("local", "planner") if quick else ("local", "agilenn", "planner")
        return [
            {"scenario": "zhang2026", **fixed, axis: n, "policy": p, "seed": s}
            for n in (counts[:2] if quick else counts) for p in deciders
            for s in range(seeds or (1 if quick else 3))
        ]  # fmt: skip

    return tasks


def _count_report(axis: str, claim: str) -> Callable:
    """The report of a devices or servers sweep: per count and decider the mean reward, total
    latency and energy per task, and the figure of the three against the count."""

    def report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
        plt = _pyplot()
        metrics = ("reward", "total_latency_s", "energy_per_task_j")
        mean = _means(tasks, results, lambda t: (t[axis], t["policy"]), metrics)
        counts = list(dict.fromkeys(t[axis] for t in tasks))
        policies = list(dict.fromkeys(t["policy"] for t in tasks))
        lines = [
            f"| {axis} | decider | reward | total latency (s) | energy per task (J) |",
            "|---:|---|---:|---:|---:|",
        ]
        lines += [
            f"| {n} | {p} | {mean[(n, p)]['reward']:.4g} | {mean[(n, p)]['total_latency_s']:.3g} "
            f"| {mean[(n, p)]['energy_per_task_j']:.3g} |"
            for n in counts for p in policies
        ]  # fmt: skip
        figure, axes = plt.subplots(1, 3, figsize=(11, 3.4))
        for axis_plot, metric in zip(axes, metrics, strict=True):
            for p in policies:
                values = [mean[(n, p)][metric] for n in counts]
                axis_plot.plot(counts, values, "o-", label=p)
            axis_plot.set_xlabel(f"number of {axis}")
            axis_plot.set_title(metric)
            if metric != "reward":
                axis_plot.set_yscale("log")
        axes[0].set_yscale("symlog")
        axes[0].legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(out / f"zhang2026-{axis}.png", dpi=120)
        plt.close(figure)
        return claim + "\n\n" + "\n".join(lines)

    return report


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in [
        Experiment(
            "zhang2026-bandwidth",
            "zhang2026 Table IV (its headline against Table III's setting)",
            "Channel bandwidth (1, 10, 30, 100 MHz) x input encoding (raw 8-bit, JPEG) for "
            "local, repeated-optimum and planner: where lower latency and lower energy than "
            "local together become reachable.",
            _bandwidth_tasks,
            scenario_episode,
            _bandwidth_report,
        ),
        Experiment(
            "zhang2026-beta",
            "zhang2026 Fig. 12 (the latency-energy trade-off of beta)",
            "Eq. 8's energy weight beta from 1 to 500 for local, repeated-optimum and planner: "
            "latency and energy per task as % of local-only's.",
            _beta_tasks,
            scenario_episode,
            _beta_report,
        ),
        Experiment(
            "shi2025-arrivals",
            "shi2025 Fig. 8 (average energy against the task arrival rate)",
            "Tasks per device and slot from 10-20 to 40-50, Wi-Fi and 5G, for EO and DADS with "
            "binary search or TA threads and the per-slot optimum: energy per device and slot.",
            _arrival_tasks,
            scenario_episode,
            _arrival_report,
        ),
        Experiment(
            "zhang2026-devices",
            "zhang2026 Figs. 8 and 10 (1 to 6 devices)",
            "1 to 6 devices on Table III's 2 servers and 2 channels, for local, AgileNN-style and "
            "planner: reward, total latency and energy per task.",
            _count_tasks("devices", (1, 2, 3, 4, 5, 6), {}),
            scenario_episode,
            _count_report(
                "devices",
                "zhang2026 Figs. 8 and 10: reward falls almost linearly with the devices for "
                "every method; with 6 devices EMH-PPO's total latency is about 37.1 % below "
                "local-only's. Here: means over seeds 0-2.",
            ),
        ),
        Experiment(
            "zhang2026-servers",
            "zhang2026 Figs. 9 and 11 (1 to 6 servers)",
            "4 devices on 1 to 6 servers (2 channels), for local, AgileNN-style and planner: "
            "reward, total latency and energy per task.",
            _count_tasks("servers", (1, 2, 3, 4, 5, 6), {"devices": 4}),
            scenario_episode,
            _count_report(
                "servers",
                "zhang2026 Figs. 9 and 11: from 1 to 6 servers EMH-PPO's reward improves by about "
                "35.6 %, AgileNN's by 11.5 %, MAHPPO's by 9.8 %, H-PPO's by 8.9 %; only EMH-PPO "
                "spends less energy than local. Here: means over seeds 0-2.",
            ),
        ),
    ]
}


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise InvalidParameterError("experiment", name, f"one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def reproduce(
    name: str,
    quick: bool = False,
    seeds: int | None = None,
    workers: int = 1,
    backend: str = "local",
    out: Path = Path("docs/results"),
    command: str = "",
    show_progress: bool = True,
) -> Path:
    """Run experiment ``name`` and write NAME.csv, NAME.png and NAME.md into ``out``; returns
    the markdown file."""
    chosen = experiment(name)
    if seeds is not None and seeds < 1:
        raise InvalidParameterError("seeds", seeds, "at least 1")
    out.mkdir(parents=True, exist_ok=True)
    tasks = chosen.tasks(quick, seeds)
    started = time.perf_counter()
    results = run_sweep(chosen.run, tasks, workers, backend, show_progress)
    wall_s = time.perf_counter() - started
    with (out / f"{name}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [*tasks[0], *results[0]])
        writer.writeheader()
        writer.writerows({**t, **r} for t, r in zip(tasks, results, strict=True))
    table = chosen.report(tasks, results, out)
    machine = machine_description("cpu")
    versions = (
        f"edgesplit {metadata.version('edgesplit')}, numpy {np.__version__}, "
        f"torch {machine['torch']}, Python {machine['python']}"
    )
    markdown = out / f"{name}.md"
    markdown.write_text(
        f"# {name}{' (quick)' if quick else ''}\n\n{chosen.about}\n\nSource: {chosen.source}.\n\n"
        f"{table}\n\n![{name}]({name}.png)\n\n"
        f"- command: `{command or f'edgesplit reproduce {name}'}`\n"
        f"- {len(tasks)} tasks, {backend} backend, {workers} worker(s), wall time {wall_s:.0f} s\n"
        f"- versions: {versions}\n"
        f"- machine: {machine['cpu']}, {machine['cores']} cores\n"
    )
    return markdown
