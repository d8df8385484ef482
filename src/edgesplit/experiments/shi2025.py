"""shi2025's figures and tables as experiments (energy-harvesting devices, one edge server with
K(t) threads, 30 s slots): Fig. 5 (DDP's training for several V), Fig. 6 (utility against the
number of devices), Fig. 7 (E2E latency per DNN), Fig. 8 (energy against the arrival rate) and
Table II (latency predictors' RMSE).

The paper's DDP is trained for each setting (``DDP_STEPS`` steps of DDP + TA, its best evaluated
policy file), beside ``optimum``, the exact per-slot utility maximiser over cuts and threads
that DDP approximates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgesplit.experiments.harness import (
    LINE_STYLES,
    Experiment,
    Row,
    learning_curve,
    learning_report,
    live_run,
    means,
    page,
    pyplot,
    save_png,
    scenario_episode,
    scenario_steps,
    task_scenario,
)
from edgesplit.experiments.sweep import Task

BASELINES = ("eo+bs", "eo+ta", "dads+bs", "dads+ta")  # the paper's four
OURS = ("ddp+ta", "optimum")  # DDP, trained per setting, and the per-slot optimum
DDP_STEPS = 3000  # 95 % of the final evaluation is reached by then (docs/policies.md)
NETWORKS = ("shi2025-wifi", "shi2025-5g")
# shi2025 Fig. 6: DDP improves the average utility by up to 11.5 % over the four baselines
FIG6_IMPROVEMENT = 0.115
# shi2025 Fig. 7: DDP's largest E2E latency reductions for VGG-16, against each baseline
FIG7_VGG_REDUCTION = {"dads+ta": 0.016, "dads+bs": 0.105, "eo+ta": 0.258, "eo+bs": 0.373}
# shi2025 Fig. 8: DDP's largest energy reductions over the arrival rates, against each baseline
FIG8_REDUCTION = {"dads+ta": 0.127, "dads+bs": 0.179, "eo+ta": 0.277, "eo+bs": 0.385}


def _deciders(quick: bool, quick_ones: tuple[str, ...]) -> list[dict]:
    """The deciders of a sweep as task fields (DDP with its training steps)."""
    names = quick_ones if quick else (*BASELINES, *OURS)
    return [{"policy": p, **({"steps": DDP_STEPS} if p == "ddp+ta" else {})} for p in names]


def _gains(values: dict[tuple, float], policies: list[str], paper: dict[str, float],
           lower_is_better: bool) -> list[str]:  # fmt: skip
    """Table lines: per baseline the paper's figure and, per decider of ``OURS`` present, its
    largest relative gain over that baseline across the settings (``values`` keyed by
    (*setting, policy))."""
    ours = [p for p in OURS if p in policies]
    lines = ["| baseline | paper (DDP) | " + " | ".join(f"`{p}` here" for p in ours) + " |",
             "|---|---:|" + "---:|" * len(ours)]  # fmt: skip
    for baseline, figure in paper.items():
        if baseline not in policies:
            continue
        cells = []
        for decider in ours:
            gain = max(
                (1 - v / values[(*k[:-1], baseline)]) if lower_is_better
                else (v / values[(*k[:-1], baseline)] - 1)
                for k, v in values.items() if k[-1] == decider
            )  # fmt: skip
            cells.append(f"{100 * gain:.1f} %")
        lines.append(f"| {baseline} | {100 * figure:.1f} % | " + " | ".join(cells) + " |")
    return lines


def _network_sweep(
    values: dict[tuple, float], policies: list[str], setting: str, label: Callable,
    x: Callable, xlabel: str, ylabel: str, digits: str, out: Path, name: str,
) -> tuple[list[str], str]:  # fmt: skip
    """A sweep's table (a row per network and setting, a column per decider; ``values`` keyed
    (network, setting, decider)) and its figure (a panel per network, each decider against
    ``x(setting)``), saved as ``out/name.png``."""
    plt = pyplot()
    networks = list(dict.fromkeys(k[0] for k in values))
    lines = [f"| network | {setting} | " + " | ".join(policies) + " |",
             "|---|---:|" + "---:|" * len(policies)]  # fmt: skip
    figure, axes = plt.subplots(1, len(networks), figsize=(4.2 * len(networks), 3.6))
    curve = lambda p: [v for k, v in values.items() if k[2] == p]  # noqa: E731
    # a decider whose curves equal an earlier one's everywhere says so in the legend
    same = {p: next((q for q in policies[:i] if curve(q) == curve(p)), None)
            for i, p in enumerate(policies)}  # fmt: skip
    for axis, network in zip(np.atleast_1d(axes), networks, strict=True):
        settings = list(dict.fromkeys(k[1] for k in values if k[0] == network))
        for s in settings:
            row = " | ".join(f"{values[(network, s, p)]:{digits}}" for p in policies)
            lines.append(f"| {network} | {label(s)} | {row} |")
        for i, policy in enumerate(policies):
            axis.plot([x(s) for s in settings], [values[(network, s, policy)] for s in settings],
                      label=policy if same[policy] is None else f"{policy} (= {same[policy]})",
                      **{**LINE_STYLES[i % len(LINE_STYLES)], "markevery": 1})  # fmt: skip
        axis.set_title(network)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.set_xticks(sorted({x(s) for s in settings}))
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return lines, save_png(figure, out, name)


def _arrival_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenarios = ("shi2025-5g",) if quick else NETWORKS
    rates = ((10, 20), (40, 50)) if quick else ((10, 20), (20, 30), (30, 40), (40, 50))
    return [
        {"scenario": c, "arrivals_per_slot": r, **d, "seed": s}
        for c in scenarios for r in rates for d in _deciders(quick, ("eo+ta", "optimum"))
        for s in range(seeds or (1 if quick else 3))
    ]  # fmt: skip


def _arrival_report(tasks: list[Task], results: list[dict[str, float]], out: Path) -> str:
    key = lambda t: (t["scenario"], tuple(t["arrivals_per_slot"]), t["policy"])  # noqa: E731
    energy = {k: v["energy_j"] for k, v in means(tasks, results, key, ("energy_j",)).items()}
    policies = list(dict.fromkeys(t["policy"] for t in tasks))
    lines, image = _network_sweep(
        energy, policies, "tasks per slot", lambda r: f"{r[0]}-{r[1]}", np.mean,
        "tasks per device and slot (mean)", "energy per device and slot (J)", ".3g", out,
        "shi2025-arrivals",
    )  # fmt: skip
    lines += ["", "Largest energy reduction over the arrival rates:", ""]
    lines += _gains(energy, policies, FIG8_REDUCTION, lower_is_better=True)
    claim = (
        "shi2025 Fig. 8: DDP has the lowest average energy per device as the arrival rate grows, "
        "up to 12.7 %, 17.9 %, 27.7 % and 38.5 % below DADS + TA, DADS + BS, EO + TA and EO + BS. "
        "Here: energy per device and slot (J), the mean over the seeds of 120-slot episodes; "
        f"DDP (`ddp+ta`) trained {DDP_STEPS:,} steps for each setting and seed, and `optimum`, "
        "the exact per-slot utility maximiser."
    )
    return page(claim, lines, image)


def _device_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenarios = ("shi2025-5g",) if quick else NETWORKS
    return [
        {"scenario": c, "devices": n, **d, "seed": s}
        for c in scenarios for n in ((1, 3) if quick else range(1, 7))
        for d in _deciders(quick, ("eo+ta", "optimum"))
        for s in range(seeds or (1 if quick else 3))
    ]  # fmt: skip


def _device_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    key = lambda t: (t["scenario"], t["devices"], t["policy"])  # noqa: E731
    utility = {k: v["utility"] for k, v in means(tasks, results, key, ("utility",)).items()}
    policies = list(dict.fromkeys(t["policy"] for t in tasks))
    lines, image = _network_sweep(
        utility, policies, "devices", str, float, "number of devices",
        "average utility per slot (Eq. 10)", ".4g", out, "shi2025-devices",
    )  # fmt: skip
    lines += ["", "Largest utility gain over the device counts and networks:", ""]
    lines += _gains(utility, policies, dict.fromkeys(BASELINES, FIG6_IMPROVEMENT),
                    lower_is_better=False)  # fmt: skip
    claim = (
        "shi2025 Fig. 6: DDP has the highest average utility at every number of devices, Wi-Fi "
        f"and 5G, up to {100 * FIG6_IMPROVEMENT:.1f} % above the four baselines. Here: the mean "
        "utility per slot over the seeds (120-slot episodes); device i runs VGG-16-BN, ResNet-34 "
        f"and MobileNet-V2 in turn; DDP (`ddp+ta`) trained {DDP_STEPS:,} steps for each setting "
        "and seed, and `optimum`, the exact per-slot utility maximiser."
    )
    return page(claim, lines, image)


def _latency_tasks(quick: bool, seeds: int | None) -> list[Task]:
    scenarios = ("shi2025-5g",) if quick else NETWORKS
    return [
        {"scenario": c, **d, "seed": s}
        for c in scenarios for d in _deciders(quick, ("eo+bs", "optimum"))
        for s in range(seeds or (1 if quick else 5))
    ]  # fmt: skip


def latency_per_model(task: Task) -> Row:
    """The mean E2E latency per task of each device's DNN over one episode (a model run by
    several devices: the mean over them)."""
    steps = scenario_steps(task)
    models = [d.model for d in task_scenario(task).devices for _ in range(d.count)]
    per_device = np.mean([info["latency_s"] for _, info in steps], axis=0)
    of = np.array(models)
    return {f"latency_s_{m}": float(per_device[of == m].mean()) for m in dict.fromkeys(models)}


def _latency_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    metrics = tuple(results[0])
    latency = means(tasks, results, lambda t: (t["scenario"], t["policy"]), metrics)
    scenarios = list(dict.fromkeys(t["scenario"] for t in tasks))
    policies = list(dict.fromkeys(t["policy"] for t in tasks))
    models = [m.removeprefix("latency_s_") for m in metrics]
    lines = [
        "| network | decider | " + " | ".join(f"{m} (ms)" for m in models) + " |",
        "|---|---|" + "---:|" * len(models),
    ]
    lines += [
        f"| {c} | {p} | "
        + " | ".join(f"{1e3 * latency[(c, p)][m]:.1f}" for m in metrics) + " |"
        for c in scenarios for p in policies
    ]  # fmt: skip
    figure, axes = plt.subplots(1, len(scenarios), figsize=(4.6 * len(scenarios), 3.6))
    width = 0.8 / len(policies)
    for axis, scenario in zip(np.atleast_1d(axes), scenarios, strict=True):
        for i, policy in enumerate(policies):
            axis.bar(np.arange(len(models)) + i * width,
                     [1e3 * latency[(scenario, policy)][m] for m in metrics], width,
                     label=policy)  # fmt: skip
        axis.set_xticks(np.arange(len(models)) + 0.4 - width / 2, models, fontsize=8)
        axis.set_xlabel("device DNN")
        axis.set_title(scenario)
        axis.set_ylabel("average E2E latency per task (ms)")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    image = save_png(figure, out, "shi2025-latency")
    vgg = {k: m["latency_s_vgg16_bn"] for k, m in latency.items()}
    lines += ["", "Largest VGG-16-BN latency reduction over the networks:", ""]
    lines += _gains(vgg, policies, FIG7_VGG_REDUCTION, lower_is_better=True)
    claim = (
        "shi2025 Fig. 7 (3 devices, 120 slots): DDP has the least average E2E latency for every "
        "DNN, Wi-Fi and 5G; for VGG-16 up to 1.6 %, 10.5 %, 25.8 % and 37.3 % below DADS + TA, "
        "DADS + BS, EO + TA and EO + BS. Here: the mean over the seeds of each DNN's E2E latency "
        f"per task (local, uplink, queue, server, downlink); DDP (`ddp+ta`) trained {DDP_STEPS:,} "
        "steps for each network and seed, and `optimum`, the exact per-slot maximiser of Eq. "
        "10's utility (latency and energy), not of latency alone."
    )
    return page(claim, lines, image)


def _table2_tasks(quick: bool, seeds: int | None) -> list[Task]:
    models = ("mobilenet_v2",) if quick else ("vgg16_bn", "resnet34", "mobilenet_v2")
    return [{"model": m, "hardware": "xeon16", "train_threads": "1,2,4,8,16"} for m in models]


def table2_scores(task: Task) -> list[dict]:
    """shi2025 Table II for one model: each predictor's RMSE and MAPE on the heads and tails it
    was not fitted on (``predict_eval``), beside the paper's RMSE."""
    from edgesplit.experiments.predict_eval import predict_eval

    threads = [int(k) for k in task["train_threads"].split(",")]
    report = predict_eval([task["model"]], task["hardware"], threads)
    return [{k: v for k, v in row.items() if k != "model"} for row in report.records()["scores"]]


PAPER_LINE = "shi2025 Table II, the same predictor (no unit printed)"


def _table2_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    plt = pyplot()
    lines = [
        "| model | predictor | held-out pairs | RMSE (ms) | paper's RMSE (no unit) | MAPE |",
        "|---|---|---:|---:|---:|---:|",
    ]
    figure, axis = plt.subplots(figsize=(6.4, 3.8))
    predictors = list(dict.fromkeys(r["predictor"] for rows in results for r in rows))
    width = 0.8 / len(predictors)
    for i, (task, rows) in enumerate(zip(tasks, results, strict=True)):
        for j, row in enumerate(rows):
            paper = row["paper_rmse_ms"]
            lines.append(
                f"| {task['model']} | {row['predictor']} | {row['pairs']} | {row['rmse_ms']:.3g} "
                f"| {'' if paper is None else f'{paper:.4g}'} | {row['mape_pct']:.1f} % |"
            )
            axis.bar(i + j * width, row["rmse_ms"], width, color=f"C{j}",
                     label=row["predictor"] if i == 0 else None)  # fmt: skip
            if paper is not None:  # the paper's value of the same predictor, over its bar
                left, right = i + (j - 0.45) * width, i + (j + 0.45) * width
                labelled = PAPER_LINE in axis.get_legend_handles_labels()[1]
                axis.hlines(paper, left, right, color="black", linewidth=2.5,
                            label=None if labelled else PAPER_LINE)  # fmt: skip
    axis.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, [t["model"] for t in tasks])
    axis.set_xlabel("DNN")
    axis.set_ylabel("RMSE on held-out heads and tails (ms)")
    axis.legend(fontsize=7)
    image = save_png(figure, out, "shi2025-table2")
    claim = (
        "shi2025 Table II: its thread-aware predictor (Eq. 7-9) has an RMSE of 3.74, 2.80 and "
        "0.80 on VGG-16-BN, ResNet-34 and MobileNet-V2 (the table prints no unit), up to 8.31 x "
        "less than Neurosurgeon's (its own values give 7.2, 8.9 and 8.3 x). "
        "Here: every predictor fitted on the whole-model and per-node measurements at 1, 2, 4, 8 "
        "and 16 threads of the shipped 16-core Xeon profiles, scored on every head and tail "
        "(never fitted on), ``edgesplit predict-eval``'s protocol (docs/profile.md)."
    )
    return page(claim, lines, image)


def _convergence_tasks(quick: bool, seeds: int | None) -> list[Task]:
    return [
        {"scenario": "shi2025-5g", "v": v, "policy": "ddp+ta", "steps": 240 if quick else 6000,
         "seed": s}
        for v in ((0.5,) if quick else (0.1, 0.5, 0.9)) for s in range(seeds or 1)
    ]  # fmt: skip


def _live_tasks(quick: bool, seeds: int | None) -> list[Task]:
    policies = ("local", "dads+ta") if quick else ("local", "eo+ta", "dads+ta", "neurosurgeon+ta",
                                                   "optimum")  # fmt: skip
    return [{"scenario": "live-demo", "policy": p, "duration_s": 6.0 if quick else 20.0,
             "seed": s} for p in policies for s in range(seeds or 1)]  # fmt: skip


def _live_report(name: str, claim: str) -> Callable:
    """The report of a live experiment: per policy the tasks, the measured latency per task
    and per component against the cost model's prediction, and the modelled energy."""

    def report(tasks: list[Task], results: list[Row], out: Path) -> str:
        plt = pyplot()
        metrics = tuple(results[0])
        mean = means(tasks, results, lambda t: (t["policy"],), metrics)
        lines = [
            "| policy | tasks done | offloaded | measured latency per task (ms) | predicted (ms) | "
            "measured / predicted | median per-task error | modelled energy per task (J) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {p} | {m['done']:.0f} | {100 * m['offloaded_share']:.0f} % | "
            f"{1e3 * m['measured_latency_s']:.1f} | {1e3 * m['predicted_latency_s']:.1f} | "
            f"{m['measured_latency_s'] / m['predicted_latency_s']:.2f} | "
            f"{m['median_abs_error_pct']:.0f} % | {m['energy_per_task_j']:.3g} |"
            for (p,), m in mean.items()
        ]
        if "measured_head_s" in metrics:
            lines += [
                "",
                "Per component, over the tasks that ran as decided (measured / predicted, ms):",
                "",
                "| policy | head | link (codec + transfer) | server queue | tail |",
                "|---|---:|---:|---:|---:|",
            ]
            lines += [
                f"| {p} | "
                + " | ".join(
                    f"{1e3 * m[f'measured_{c}']:.1f} / {1e3 * m[f'predicted_{c}']:.1f}"
                    for c in ("head_s", "link_s", "queue_s", "tail_s")
                )
                + " |"
                for (p,), m in mean.items()
            ]
        figure, axis = plt.subplots(figsize=(6.4, 3.6))
        x = np.arange(len(mean))
        axis.bar(x - 0.2, [1e3 * m["measured_latency_s"] for m in mean.values()], 0.4,
                 label="measured")  # fmt: skip
        axis.bar(x + 0.2, [1e3 * m["predicted_latency_s"] for m in mean.values()], 0.4,
                 label="predicted by the cost model")  # fmt: skip
        axis.set_xticks(x, [p for (p,) in mean], fontsize=8)
        axis.set_xlabel("policy")
        axis.set_ylabel("E2E latency per task (ms)")
        axis.legend(fontsize=7)
        image = save_png(figure, out, name)
        return page(claim, lines, image)

    return report


def _testbed_tasks(quick: bool, seeds: int | None) -> list[Task]:
    policies = ("local", "dads+ta") if quick else ("local", "eo+ta", "dads+ta", "neurosurgeon+ta",
                                                   "optimum")  # fmt: skip
    return [{"scenario": "shi2025-5g", "policy": p, "devices": 3, "testbed": True,
             "duration_s": 8.0 if quick else 40.0, "seed": s}
            for p in policies for s in range(seeds or 1)]  # fmt: skip


EXPERIMENTS = [
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
        "shi2025-devices",
        "shi2025 Fig. 6 (average utility against the number of devices, Wi-Fi and 5G)",
        "1 to 6 devices (VGG-16-BN, ResNet-34, MobileNet-V2 in turn), Wi-Fi and 5G, for the "
        "paper's four baselines and the per-slot optimum: average utility per slot.",
        _device_tasks,
        scenario_episode,
        _device_report,
    ),
    Experiment(
        "shi2025-latency",
        "shi2025 Fig. 7 (average E2E latency per DNN, 3 devices, 120 slots)",
        "The three devices' DNNs under each scheme, Wi-Fi and 5G: average E2E latency per task.",
        _latency_tasks,
        latency_per_model,
        _latency_report,
    ),
    Experiment(
        "shi2025-table2",
        "shi2025 Table II (RMSE of the latency predictors)",
        "Each latency predictor's RMSE and MAPE on held-out heads and tails of the 16-core "
        "Xeon profiles of VGG-16-BN, ResNet-34 and MobileNet-V2.",
        _table2_tasks,
        table2_scores,
        _table2_report,
    ),
    Experiment(
        "shi2025-convergence",
        "shi2025 Fig. 5 (DDP's cumulative reward over training episodes for several V)",
        "DDP (+ TA) trained on shi2025-5g with Eq. 10's V at 0.1, 0.5 and 0.9: the return of "
        "each training episode, and the final policy's evaluation.",
        _convergence_tasks,
        learning_curve,
        learning_report(
            "shi2025-convergence",
            lambda t: f"V = {t['v']:g}",
            "shi2025 Fig. 5: the cumulative reward rises over the training episodes and then "
            "levels off, for every V; a smaller V reaches a higher cumulative reward (V = 0.5 is "
            "used elsewhere). Eq. 10 weighs latency and energy by V, so rewards at different V "
            "measure different things.",
        ),
    ),
    Experiment(
        "shi2025-live",
        "shi2025 Sec. V's test-bed measurements, with `edgesplit live`",
        "Local, EO + TA, DADS + TA, Neurosurgeon + TA and the per-slot optimum run live on "
        "127.0.0.1: measured E2E latency per task against the cost model's prediction; runs "
        "serially.",
        _live_tasks,
        live_run,
        _live_report(
            "shi2025-live",
            "shi2025 runs its schemes on a real test-bed (Jetson devices, an i7 server) and "
            "reports measured latencies. Here: `edgesplit live` on 127.0.0.1 (live-demo: two "
            "device processes, one edge server process, real sockets, this machine's measured "
            "profiles), each policy for the same seeded arrivals and link rates; every task's "
            "measured E2E latency against what the simulator's cost model predicted for it "
            "(docs/runtime.md).",
        ),
        serial=True,
    ),
    Experiment(
        "shi2025-testbed",
        "shi2025 Sec. V's test-bed (Jetson devices, an i7 server), on `edgesplit testbed`",
        "shi2025-5g's three Jetson-class devices (VGG-16-BN, ResNet-34, MobileNet-V2) and one "
        "server, each a host of the testbed (network namespaces, the 5G links shaped by the "
        "kernel, the devices' CPUs capped to their catalogue ratios): each policy's measured "
        "latency per task and per component against the prediction; root; runs serially.",
        _testbed_tasks,
        live_run,
        _live_report(
            "shi2025-testbed",
            "shi2025 Sec. V measures its schemes on Jetson devices offloading to an i7 "
            "workstation. Here every role is a host of `edgesplit testbed` on one machine: the "
            "devices' uplinks are the kernel's token bucket filters following shi2025-5g's "
            "20-40 Mbit/s draws, their CPUs are capped so that the three Jetsons are as much "
            "slower than each other as in the catalogue, and the controller decides on the "
            "rates the agents measure (docs/runtime.md). All hosts share this machine's cores, "
            "which the cost model does not know.",
        ),
        serial=True,
    ),
]
