"""zhang2026's figures and tables as experiments (multi-device, multi-server task windows):
Fig. 6 (the learners' convergence), Table IV's headline against Table III's setting (bandwidth x
input encoding), Table IV (50..200 tasks), Table V (operator-grained against vertical
partitioning), Fig. 12's beta trade-off, Figs. 8-11 (1..6 devices, 1..6 servers); Fig. 13 is
``chukhno2023``'s digits model (``zhang2026-precision``)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgesplit.experiments.harness import (
    Experiment,
    Row,
    learning_curve,
    learning_report,
    live_run,
    means,
    page,
    pyplot,
    ratios,
    save_png,
    scenario_episode,
)
from edgesplit.experiments.sweep import Task

RAW_INPUT_BITS = 224 * 224 * 3 * 8  # Table III's 1.2 Mbit input: 224 x 224 RGB at 8 bits
# zhang2026 Table IV, 50 tasks: EMH-PPO against local-only inference
TABLE_IV_LATENCY_RATIO = 787.81 / 2150.75
TABLE_IV_ENERGY_RATIO = 0.0251 / 0.0409
# zhang2026 Fig. 15 (Sec. V-E): MobileNetV2 split between 1, 2, 3 Raspberry Pis and one MEC
# server cuts the latency of local inference by about 35, 28 and 24 %
FIG_15_REDUCTION = {1: 0.35, 2: 0.28, 3: 0.24}
# zhang2026's learners, and their training steps in every experiment (Figs. 6-12, Table IV)
LEARNERS = ("emh-ppo", "mahppo", "h-ppo")
LEARNER_STEPS = 30_000
QUICK_LEARNER_STEPS = 64


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


def _sweep_tasks(
    settings: list[dict],
    deciders: tuple[str, ...],
    learners: tuple[str, ...],
    quick: bool,
    runs: int,
) -> list[Task]:
    """Per setting: each decider on seeds 0..runs-1, and each learner trained once from seed 0
    (``LEARNER_STEPS``; ``QUICK_LEARNER_STEPS`` when quick) and evaluated on the same seeds
    (``scenario_episode``'s ``test_episodes``)."""
    steps = QUICK_LEARNER_STEPS if quick else LEARNER_STEPS
    return [
        {**setting, "policy": p, "seed": s}
        for setting in settings for p in deciders for s in range(runs)
    ] + [
        {**setting, "policy": p, "steps": steps, "seed": 0, "test_episodes": runs}
        for setting in settings for p in learners
    ]  # fmt: skip


def trained(tasks: list[Task], per: str) -> str:
    """How this run's learners were trained, read off its tasks (a quick run trains fewer
    steps, or none)."""
    taught = [t for t in tasks if "steps" in t]
    if not taught:
        return "no learner in this run."
    names = ", ".join(dict.fromkeys(t["policy"] for t in taught))
    steps = ", ".join(f"{n:,}" for n in sorted({t["steps"] for t in taught}))
    return f"{names} trained once per {per} ({steps} steps, seed 0), evaluated on the same seeds."


def _bandwidth_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenario = "zhang2026-small" if quick else "zhang2026"
    bandwidths = (1e6, 1e8) if quick else (1e6, 1e7, 3e7, 1e8)
    encodings = {"raw 8-bit": RAW_INPUT_BITS}
    if not quick:
        encodings["JPEG"] = jpeg_input_bits()
    deciders = ("local", "repeated-optimum") if quick else ("local", "repeated-optimum", "planner")
    settings = [
        {"scenario": scenario, "bandwidth_hz": b, "encoding": e, "input_bits": bits}
        for b in bandwidths for e, bits in encodings.items()
    ]  # fmt: skip
    return _sweep_tasks(settings, deciders, (), quick, seeds or (1 if quick else 5))


def _beta_tasks(quick: bool, seeds: int | None) -> list[Task]:
    """zhang2026 Fig. 12 is EMH-PPO's: the one learner here."""
    scenario = "zhang2026-small" if quick else "zhang2026"
    betas = (1.0, 500.0) if quick else (1.0, 5.0, 10.0, 50.0, 100.0, 500.0)
    deciders = ("local", "repeated-optimum") if quick else ("local", "repeated-optimum", "planner")
    settings = [{"scenario": scenario, "beta": b} for b in betas]
    learners = () if quick else ("emh-ppo",)  # quick: the count sweeps run the quick learner
    return _sweep_tasks(settings, deciders, learners, quick, seeds or (1 if quick else 5))


def _beta_report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
    plt = pyplot()
    cells = ratios(tasks, results, lambda t: (t["beta"],))
    lines = [
        "| beta | decider | total latency (s) | % of local | energy per task (J) | % of local |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for policy in dict.fromkeys(t["policy"] for t in tasks):
        points = [(b, *cells[(b, p)]) for b, p in cells if p == policy]
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
    image = save_png(figure, out, "zhang2026-beta")
    claim = (
        "zhang2026 Fig. 12 (EMH-PPO): as beta grows energy falls and latency rises; at beta = "
        "500 the energy is about 47 % of local-only's and the latency about 2.5 % above its "
        "value at beta = 50. Here: the mean over the seeds of each decider's total latency and "
        "energy per task, as % of local-only's; "
    ) + trained(tasks, "beta")
    return page(claim, lines, image)


def _bandwidth_report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
    plt = pyplot()
    from matplotlib import ticker  # after pyplot() chose the file-only backend

    cells = ratios(tasks, results, lambda t: (t["bandwidth_hz"], t["encoding"]))
    lines = [
        "| bandwidth | input | decider | total latency (s) | vs local | energy per task (J) "
        "| vs local | lower latency and energy than local |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    figure, axis = plt.subplots(figsize=(9.0, 4.2))
    for (bandwidth, encoding, policy), cell in cells.items():
        latency, latency_ratio, energy, energy_ratio = cell
        both = "yes" if latency_ratio < 1 and energy_ratio < 1 else "no"
        lines.append(
            f"| {bandwidth / 1e6:g} MHz | {encoding} | {policy} | {latency:.3g} | "
            f"{latency_ratio:.3g} | {energy:.3g} | {energy_ratio:.3g} | {both} |"
        )
        if policy != "local":  # colour: the bandwidth; marker: the decider and the input
            shapes = [(p, e) for p in ("repeated-optimum", "planner") for e in ("raw", "JPEG")]
            kind = (policy, "raw" if encoding.startswith("raw") else "JPEG")
            colour = f"C{list(dict.fromkeys(k[0] for k in cells)).index(bandwidth)}"
            label = f"{policy}, {encoding}, {bandwidth / 1e6:g} MHz"
            axis.scatter(latency_ratio, energy_ratio, marker="os^D"[shapes.index(kind)],
                         color=colour, label=label)  # fmt: skip
    axis.scatter(TABLE_IV_LATENCY_RATIO, TABLE_IV_ENERGY_RATIO, marker="*", s=160, color="black",
                 label="zhang2026 Table IV (EMH-PPO)")  # fmt: skip
    axis.axvline(1, color="grey", lw=0.8)
    axis.axhline(1, color="grey", lw=0.8)
    axis.set_xscale("log")
    axis.set_yscale("log")
    for scaled in (axis.xaxis, axis.yaxis):  # labels on the decades and 2, 5 only: none overlap
        scaled.set_major_formatter(
            ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 1))
        )
        scaled.set_minor_formatter(ticker.NullFormatter())
    axis.set_xlabel("total latency / local only (log)")
    axis.set_ylabel("energy per task / local only (log)")
    axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    image = save_png(figure, out, "zhang2026-bandwidth")
    claim = (
        f"zhang2026 Table IV (50 tasks): EMH-PPO at {TABLE_IV_LATENCY_RATIO:.2f} of local-only's "
        f"total latency and {TABLE_IV_ENERGY_RATIO:.2f} of its energy per task, with Table III's "
        "1 MHz channels (zhang2026 states no input size; ours is 1.2 Mbit, 8-bit 224 x 224 x 3). "
        "Here: the mean over the seeds of each decider's "
        "total latency and energy per task, and their ratios to local-only's; the noise grows "
        "with the bandwidth (1e-9 W per MHz)."
    )
    return page(claim, lines, image)


def _count_tasks(axis: str, counts: tuple[int, ...], fixed: dict) -> Callable:
    """Tasks of zhang2026 with ``axis`` (devices or servers) over ``counts`` and the other at
    ``fixed``; quick: the first two counts, local, planner and EMH-PPO, one seed."""

    def tasks(quick: bool, seeds: int | None) -> list[Task]:
        deciders = ("local", "planner") if quick else ("local", "agilenn", "planner")
        settings = [{"scenario": "zhang2026", **fixed, axis: n}
                    for n in (counts[:2] if quick else counts)]  # fmt: skip
        learners = ("emh-ppo",) if quick else LEARNERS
        return _sweep_tasks(settings, deciders, learners, quick, seeds or (1 if quick else 3))

    return tasks


def _count_report(axis: str, claim: str) -> Callable:
    """The report of a devices or servers sweep: per count and decider the mean reward, total
    latency and energy per task, and the figure of the three against the count."""

    def report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
        plt = pyplot()
        metrics = ("reward", "total_latency_s", "energy_per_task_j")
        mean = means(tasks, results, lambda t: (t[axis], t["policy"]), metrics)
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
        labels = ("episode reward (Eq. 8)", "total latency (s)", "energy per task (J)")
        for axis_plot, metric, label in zip(axes, metrics, labels, strict=True):
            for p in policies:
                values = [mean[(n, p)][metric] for n in counts]
                axis_plot.plot(counts, values, "o-", label=p)
            axis_plot.set_xlabel(f"number of {axis}")
            axis_plot.set_xticks(counts)
            axis_plot.set_ylabel(label)
            if metric != "reward":
                axis_plot.set_yscale("log")
        axes[0].set_yscale("symlog")
        axes[0].legend(fontsize=7)
        image = save_png(figure, out, f"zhang2026-{axis}")
        return page(claim + trained(tasks, "count"), lines, image)

    return report


# zhang2026 Table IV: EMH-PPO's total latency (ms) and energy per task (J) against the tasks
TABLE_IV = {50: (787.81, 0.0251), 100: (1582.88, 0.0252), 150: (2379.29, 0.0251),
            200: (3164.64, 0.0253)}  # fmt: skip
TABLE_IV_LOCAL = {50: 2150.75, 100: 4301.50, 150: 6452.25, 200: 8603.00}
# zhang2026 Table V at 3 devices: (operator-grained, vertical) reward, latency (ms), energy (J)
TABLE_V_3 = {
    "resnet50": ((-17.94, 787.83, 0.0251), (-18.63, 811.05, 0.0294)),
    "googlenet": ((-12.99, 564.59, 0.0237), (-13.23, 582.67, 0.0266)),
    "mobilenet_v2": ((-10.77, 503.39, 0.0137), (-11.23, 520.66, 0.0158)),
}


def _task_count_tasks(quick: bool, seeds: int | None) -> list[Task]:
    counts = (50, 100) if quick else (50, 100, 150, 200)
    scenario = "zhang2026-small" if quick else "zhang2026"
    deciders = ("local", "planner") if quick else ("local", "agilenn", "planner")
    settings = [{"scenario": scenario, "mean_tasks": n} for n in counts]
    learners = () if quick else LEARNERS  # quick: the count sweeps run the quick learner
    return _sweep_tasks(settings, deciders, learners, quick, seeds or (1 if quick else 3))


def _task_count_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    metrics = ("reward", "total_latency_s", "energy_per_task_j")
    mean = means(tasks, results, lambda t: (t["mean_tasks"], t["policy"]), metrics)
    counts = list(dict.fromkeys(t["mean_tasks"] for t in tasks))
    policies = list(dict.fromkeys(t["policy"] for t in tasks))
    lines = [
        "| mean tasks per device | decider | reward | total latency (s) | energy per task (J) |",
        "|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {n:g} | {p} | {mean[(n, p)]['reward']:.4g} | {mean[(n, p)]['total_latency_s']:.3g} "
        f"| {mean[(n, p)]['energy_per_task_j']:.3g} |"
        for n in counts for p in policies
    ]  # fmt: skip
    lines += ["", "| decider | latency per added task (ms), least squares over the counts |",
              "|---|---:|"]  # fmt: skip
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for p in policies:
        latency = [mean[(n, p)]["total_latency_s"] for n in counts]
        slope = np.polyfit(counts, latency, 1)[0]
        lines.append(f"| {p} | {1e3 * slope:.1f} |")
        axes[0].plot(counts, latency, "o-", label=p)
        axes[1].plot(counts, [mean[(n, p)]["energy_per_task_j"] for n in counts], "o-", label=p)
    counts_iv = list(TABLE_IV)
    axes[0].plot(counts_iv, [1e-3 * TABLE_IV[n][0] for n in counts_iv], "k*--",
                 label="EMH-PPO (Table IV)")  # fmt: skip
    axes[0].plot(counts_iv, [1e-3 * TABLE_IV_LOCAL[n] for n in counts_iv], "kx:",
                 label="local (Table IV)")  # fmt: skip
    axes[1].plot(counts_iv, [TABLE_IV[n][1] for n in counts_iv], "k*--", label="EMH-PPO (Table IV)")
    axes[0].set_ylabel("total latency (s)")
    axes[1].set_ylabel("energy per task (J)")
    for axis in axes:
        axis.set_yscale("log")
        axis.set_xlabel("mean tasks per device")
    axes[0].legend(fontsize=7)
    image = save_png(figure, out, "zhang2026-tasks")
    claim = (
        "zhang2026 Table IV: every method's total latency grows linearly with the tasks "
        "(EMH-PPO about 15.8 ms per added task, MAHPPO 25.0, H-PPO 25.3, local 43.0) and the "
        "energy per task stays constant (EMH-PPO 0.0251-0.0253 J, local 0.0409 J). Here: "
        "means over the seeds; the slope is per added task per device; "
    ) + trained(tasks, "count")
    return page(claim, lines, image)


def _partition_tasks(quick: bool, seeds: int | None) -> list[Task]:
    models = ("mobilenet_v2",) if quick else ("resnet50", "googlenet", "mobilenet_v2")
    settings = [
        {"scenario": "zhang2026", "devices": n, "model": m, "granularity": g}
        for n in ((1, 3) if quick else range(1, 7)) for m in models for g in ("operator", "block")
    ]  # fmt: skip
    return _sweep_tasks(settings, ("planner",), (), quick, seeds or (1 if quick else 3))


def _partition_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    metrics = ("reward", "total_latency_s", "energy_per_task_j")
    mean = means(tasks, results, lambda t: (t["devices"], t["model"], t["granularity"]), metrics)
    counts = list(dict.fromkeys(t["devices"] for t in tasks))
    models = list(dict.fromkeys(t["model"] for t in tasks))
    lines = [
        "| devices | DNN | operator: reward | latency (s) | energy (J) | vertical: reward | "
        "latency (s) | energy (J) | latency change | energy change |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for m in models:
        for n in counts:
            op, ve = mean[(n, m, "operator")], mean[(n, m, "block")]
            lines.append(
                f"| {n} | {m} | {op['reward']:.4g} | {op['total_latency_s']:.4g} | "
                f"{op['energy_per_task_j']:.3g} | {ve['reward']:.4g} | "
                f"{ve['total_latency_s']:.4g} | {ve['energy_per_task_j']:.3g} | "
                f"{100 * (op['total_latency_s'] / ve['total_latency_s'] - 1):+.1f} % | "
                f"{100 * (op['energy_per_task_j'] / ve['energy_per_task_j'] - 1):+.1f} % |"
            )
        for axis, metric in zip(axes, ("total_latency_s", "energy_per_task_j"), strict=True):
            ratio = [mean[(n, m, "operator")][metric] / mean[(n, m, "block")][metric]
                     for n in counts]  # fmt: skip
            axis.plot(counts, ratio, "o-", label=m)
    for axis, name in zip(axes, ("total latency", "energy per task"), strict=True):
        axis.axhline(1, color="grey", lw=0.8)
        axis.set_xlabel("number of devices")
        axis.set_xticks(counts)
        axis.set_ylabel(f"{name}: operator-grained / vertical")
    axes[0].legend(fontsize=7)
    image = save_png(figure, out, "zhang2026-partition")
    lines += [
        "",
        "| DNN (3 devices) | Table V: latency change | energy change |",
        "|---|---:|---:|",
    ]
    for m, (op, ve) in TABLE_V_3.items():
        lines.append(
            f"| {m} | {100 * (op[1] / ve[1] - 1):+.1f} % | {100 * (op[2] / ve[2] - 1):+.1f} % |"
        )
    claim = (
        "zhang2026 Table V: at every number of devices and for ResNet-50, GoogLeNet and "
        "MobileNetV2, operator-grained partitioning has a higher reward, 3-4 % lower latency and "
        "12-15 % lower energy than chain-based vertical partitioning (Neurosurgeon). Here: the "
        "planner on Table III's system with every device running the DNN, cut at operator "
        "granularity (any DAG cut) or at block granularity (cuts between the top-level blocks: "
        "a residual or inception block is never split); means over the seeds."
    )
    return page(claim, lines, image)


def _convergence_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenario = "zhang2026-small" if quick else "zhang2026"
    learners = ("emh-ppo",) if quick else LEARNERS
    steps = 512 if quick else LEARNER_STEPS
    return [
        {"scenario": scenario, "policy": p, "steps": steps, "seed": s}
        for p in learners for s in range(seeds or 1)
    ] + [{"scenario": scenario, "policy": p, "steps": 0, "seed": 0}
         for p in (("local",) if quick else ("local", "agilenn"))]  # fmt: skip


def _slot_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenario, steps = ("zhang2026-small", 512) if quick else ("zhang2026", LEARNER_STEPS)
    settings = [(None, 8.0), (0.05, 8.0)] if quick else [
        (None, 8.0), (0.01, 8.0), (0.05, 8.0), (0.3, 8.0),
        (None, 4.0), (0.05, 4.0), (None, 12.0), (0.05, 12.0),
    ]  # fmt: skip
    tasks = [
        {"scenario": scenario, "policy": "emh-ppo", "shadowing_std_db": std, "steps": steps,
         "seed": s, "test_episodes": 5, **({} if slot is None else {"time_slot_s": slot})}
        for slot, std in settings for s in range(seeds or 1)
    ]  # fmt: skip
    local = {"scenario": scenario, "policy": "local", "shadowing_std_db": 8.0, "steps": 0,
             "seed": 0, "test_episodes": 5}  # fmt: skip
    return [*tasks, local]


def _slot_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    metrics = ("total_latency_s", "energy_per_task_j")

    def mdp(t: Task) -> str:
        if t["policy"] == "local":
            return "local"
        return (
            "task-aware"
            if "time_slot_s" not in t
            else f"time slots of {1e3 * t['time_slot_s']:g} ms"
        )

    filled = [{"unfinished": 0.0, **r} for r in results]  # window episodes finish every task
    mean = means(tasks, filled, lambda t: (mdp(t), t["shadowing_std_db"]), (*metrics, "unfinished"))
    lines = [
        "| formulation | shadowing (dB) | total latency (s) | energy per task (J) | tasks never "
        "started (truncated episodes) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f} | {std:g} | {m['total_latency_s']:.3g} | {m['energy_per_task_j']:.3g} | "
        f"{m['unfinished']:.1f} |"
        for (f, std), m in mean.items()
    ]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    at_8 = [(f, m) for (f, std), m in mean.items() if std == 8.0]
    labels = ("total latency (s)", "energy per task (J)")
    for axis, metric, label in zip(axes, metrics, labels, strict=True):
        axis.bar(range(len(at_8)), [m[metric] for _, m in at_8])
        axis.set_xticks(range(len(at_8)), [f for f, _ in at_8], fontsize=6, rotation=20)
        axis.set_xlabel("MDP (slot time)")
        axis.set_ylabel(label)
    axes[0].set_title("8 dB shadowing", fontsize=8)
    image = save_png(figure, out, "zhang2026-slots")
    claim = (
        "zhang2026 Fig. 7: EMH-PPO under the task-aware MDP against the time-based MDP. With "
        "50 ms slots the total latency is comparable and the energy about 3 x; 10 ms slots "
        "destabilise training; 300 ms slots are about 11.9 % slower and spend 6.2 x the "
        "energy (3.5 x local's). With 50 ms slots and more channel variability (shadowing), "
        "the task-aware policy keeps its latency lead and its energy grows less. Here: "
        "EMH-PPO trained under each formulation with the same network, optimiser and steps, its "
        "best evaluated policy on test seeds 0-4."
    )
    return page(claim, lines, image)


def _testbed_tasks(quick: bool, seeds: int | None) -> list[Task]:
    counts = (1, 2) if quick else (1, 2, 3)
    policies = ("local", "agilenn") if quick else ("local", "agilenn", "planner")
    return [
        {"scenario": "zhang2026-small", "model": "mobilenet_v2", "devices": n, "servers": 1,
         "policy": p, "testbed": True, "duration_s": 8.0 if quick else 40.0, "seed": s}
        for n in counts for p in policies for s in range(seeds or 1)
    ]  # fmt: skip


def _testbed_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    metrics = tuple(results[0])
    mean = means(tasks, results, lambda t: (t["devices"], t["policy"]), metrics)
    counts = sorted({n for n, _ in mean})
    policies = list(dict.fromkeys(p for _, p in mean))
    lines = [
        "| devices | policy | tasks done | offloaded | measured latency per task (ms) | "
        "predicted (ms) | against local, measured | predicted | paper (its method) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in counts:
        local = mean[(n, "local")]
        for p in policies:
            m = mean[(n, p)]
            measured = m["measured_latency_s"] / local["measured_latency_s"] - 1
            predicted = m["predicted_latency_s"] / local["predicted_latency_s"] - 1
            paper = f"-{100 * FIG_15_REDUCTION[n]:.0f} %" if p != "local" else ""
            lines.append(
                f"| {n} | {p} | {m['done']:.0f} | {100 * m['offloaded_share']:.0f} % | "
                f"{1e3 * m['measured_latency_s']:.1f} | {1e3 * m['predicted_latency_s']:.1f} | "
                f"{100 * measured:+.0f} % | {100 * predicted:+.0f} % | {paper} |"
            )
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    width = 0.8 / len(policies)
    for k, p in enumerate(policies):
        axis.bar(
            np.array(counts) + (k - (len(policies) - 1) / 2) * width,
            [1e3 * mean[(n, p)]["measured_latency_s"] for n in counts], width, label=p,
        )  # fmt: skip
    axis.set_xticks(counts, [f"{n} device(s)" for n in counts])
    axis.set_xlabel("devices (Raspberry Pi-class hosts)")
    axis.set_ylabel("measured latency per task (ms)")
    axis.legend(fontsize=7)
    image = save_png(figure, out, "zhang2026-testbed")
    claim = (
        "zhang2026 Fig. 15: MobileNetV2 partitioned between one to three Raspberry Pi 4B boards "
        "and one MEC server cuts the latency of local inference by about 35, 28 and 24 %. "
        "Here: zhang2026-small with MobileNet-V2 and one server, each device and the server a "
        "host of `edgesplit testbed` (network namespaces, veth links; the radio emulated by "
        "Eq. 1 on the agents' shapers), the task windows decided live. Our devices are this "
        "machine at one thread (the catalogue's Raspberry Pi is derived from a GPU server and "
        "is faster than this host, so no cap applies), and every host shares its two cores: "
        "the server is no faster than a device, unlike an RTX 3090 against a Pi."
    )
    return page(claim, lines, image)


EXPERIMENTS = [
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
        "Eq. 8's energy weight beta from 1 to 500 for local, repeated-optimum, planner and "
        "EMH-PPO: "
        "latency and energy per task as % of local-only's.",
        _beta_tasks,
        scenario_episode,
        _beta_report,
    ),
    Experiment(
        "zhang2026-devices",
        "zhang2026 Figs. 8 and 10 (1 to 6 devices)",
        "1 to 6 devices on Table III's 2 servers and 2 channels, for local, AgileNN-style, "
        "planner, EMH-PPO, MAHPPO and H-PPO: reward, total latency and energy per task.",
        _count_tasks("devices", (1, 2, 3, 4, 5, 6), {}),
        scenario_episode,
        _count_report(
            "devices",
            "zhang2026 Figs. 8 and 10: reward falls almost linearly with the devices for "
            "every method; with 6 devices EMH-PPO's total latency is about 37.1 % below "
            "local-only's. Here: means over the seeds; ",
        ),
    ),
    Experiment(
        "zhang2026-servers",
        "zhang2026 Figs. 9 and 11 (1 to 6 servers)",
        "4 devices on 1 to 6 servers (2 channels), for local, AgileNN-style, planner, EMH-PPO, "
        "MAHPPO and H-PPO: "
        "reward, total latency and energy per task.",
        _count_tasks("servers", (1, 2, 3, 4, 5, 6), {"devices": 4}),
        scenario_episode,
        _count_report(
            "servers",
            "zhang2026 Figs. 9 and 11: from 1 to 6 servers EMH-PPO's reward improves by about "
            "35.6 %, AgileNN's by 11.5 %, MAHPPO's by 9.8 %, H-PPO's by 8.9 %; only EMH-PPO "
            "spends less energy than local. Here: means over the seeds; ",
        ),
    ),
    Experiment(
        "zhang2026-convergence",
        "zhang2026 Fig. 6 (convergence of EMH-PPO against MAHPPO, H-PPO and AgileNN)",
        "EMH-PPO, MAHPPO and H-PPO trained on Table III's system (30,000 steps each; a quick run "
        "trains EMH-PPO 512 steps on zhang2026-small): the return "
        "of each training episode, and AgileNN-style and local as lines.",
        _convergence_tasks,
        learning_curve,
        learning_report(
            "zhang2026-convergence",
            lambda t: t["policy"],
            "zhang2026 Fig. 6: EMH-PPO's average reward is about 1.6 x AgileNN's and nearly 2 x "
            "MAHPPO's and H-PPO's (rewards are negative: 1.6 x better); it cuts total latency by "
            "up to 64 % and energy by 46 % against local. Here: the learners' episode returns "
            "(Eq. 8 summed over an episode) over training, their last evaluation on the trainer's "
            "held-out seeds, and the same evaluation for AgileNN-style and local.",
        ),
    ),
    Experiment(
        "zhang2026-tasks",
        "zhang2026 Table IV (50 to 200 inference tasks)",
        "Mean tasks per device from 50 to 200 for local, AgileNN-style, planner, EMH-PPO, MAHPPO "
        "and H-PPO: reward, total "
        "latency and energy per task, and the latency per added task.",
        _task_count_tasks,
        scenario_episode,
        _task_count_report,
    ),
    Experiment(
        "zhang2026-partition",
        "zhang2026 Table V (operator-grained against vertical partitioning)",
        "ResNet-50, GoogLeNet and MobileNetV2 on 1 to 6 devices, the planner cutting at operator "
        "or at block (vertical) granularity: reward, total latency and energy per task.",
        _partition_tasks,
        scenario_episode,
        _partition_report,
    ),
    Experiment(
        "zhang2026-slots",
        "zhang2026 Fig. 7 (task-aware against time-based MDP; slot times; channel variability)",
        "EMH-PPO trained on the task-window MDP and on fixed slots of 10, 50 and 300 ms, and at "
        "4, 8 and 12 dB shadowing with 50 ms slots: total latency and energy per task.",
        _slot_tasks,
        scenario_episode,
        _slot_report,
    ),
    Experiment(
        "zhang2026-testbed",
        "zhang2026 Fig. 15 (1-3 Raspberry Pis and an MEC server), on `edgesplit testbed`",
        "MobileNet-V2 task windows on 1, 2 and 3 device hosts and one server host of the "
        "testbed, local against the deciders: measured latency per task and the reduction "
        "against local, beside the paper's; root; runs serially.",
        _testbed_tasks,
        live_run,
        _testbed_report,
        serial=True,
    ),
]
