"""mozib's figures as experiments: alive sensors and sensors at the highest energy level over
rounds (its Figs. 7-9) for edgesplit's deciders against an iLEACH-style clustering protocol,
with and without energy replenishment (``sim.sensors`` says how each is built); load balancing
across edge servers (random, round-robin, least expected completion, the planner) in the
simulator and with ``edgesplit live``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgesplit.experiments.harness import (
    LINE_STYLES,
    Experiment,
    Row,
    means,
    page,
    pyplot,
    save_png,
    scenario_episode,
    task_scenario,
)
from edgesplit.experiments.sweep import Task
from edgesplit.experiments.zhang2026 import RAW_INPUT_BITS, jpeg_input_bits
from edgesplit.sim.sensors import SENSOR_DECIDERS, SensorField, dnn_costs, simulate_sensors

REPORT_ROUND = 10  # mozib runs 10 rounds


def _sensor_tasks(quick: bool, seeds: int | None) -> list[Task]:
    encodings = {"raw 8-bit": RAW_INPUT_BITS, "JPEG": jpeg_input_bits()}
    if quick:
        encodings.pop("raw 8-bit")
    return [
        {"model": "resnet50", "encoding": e, "input_bits": bits, "replenish_j_per_round": r,
         "sensors": 100, "rounds": 20 if quick else 60, "decider": d, "seed": s}
        for e, bits in encodings.items() for r in ((0.0,) if quick else (0.0, 0.01))
        for d in (("edgesplit", "ileach") if quick else SENSOR_DECIDERS)
        for s in range(seeds or (1 if quick else 5))
    ]  # fmt: skip


def sensor_rounds(task: Task) -> list[dict]:
    """One run of ``sim.sensors``: the DNN's per-cut costs on zhang2026's device (its energy
    per MAC) with the task's input size; one row per round."""
    scenario = task_scenario({"scenario": "zhang2026", "devices": 1, "model": task["model"],
                              "input_bits": task["input_bits"]})  # fmt: skip
    head_energy_j, sent_bits = dnn_costs(scenario)
    net = SensorField(head_energy_j, sent_bits, sensors=task["sensors"],
                      replenish_j_per_round=task["replenish_j_per_round"])  # fmt: skip
    out = simulate_sensors(net, task["decider"], task["rounds"], task["seed"])
    return [
        {"round": r + 1, "alive": int(out.alive[r]), "top_level": int(out.top_level[r]),
         "completed": int(out.completed[r]), "spent_j": float(out.spent_j[r])}
        for r in range(task["rounds"])
    ]  # fmt: skip


def _sensor_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    plt = pyplot()
    curves: dict[tuple, list[np.ndarray]] = {}
    for task, rows in zip(tasks, results, strict=True):
        key = (task["encoding"], task["replenish_j_per_round"], task["decider"])
        curves.setdefault(key, []).append(
            np.array([[r["alive"], r["top_level"], r["completed"]] for r in rows], dtype=float)
        )
    mean = {k: np.mean(v, axis=0) for k, v in curves.items()}  # [rounds, 3]
    settings = list(dict.fromkeys(k[:2] for k in mean))
    deciders = list(dict.fromkeys(k[2] for k in mean))
    at = REPORT_ROUND - 1
    lines = [
        f"| input | replenishment (J/round) | decider | alive at round {REPORT_ROUND} | highest "
        f"level at round {REPORT_ROUND} | rounds until half are not alive | inferences done |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    figure, axes = plt.subplots(len(settings), 2, figsize=(9, 2.8 * len(settings)), squeeze=False)
    for (encoding, replenish), row_axes in zip(settings, axes, strict=True):
        for decider in deciders:
            curve = mean[(encoding, replenish, decider)]
            below = np.flatnonzero(curve[:, 0] < curve[0, 0] / 2)
            half = f"{below[0] + 1}" if below.size else f"> {len(curve)}"
            lines.append(
                f"| {encoding} | {replenish:g} | {decider} | {curve[at, 0]:.1f} | "
                f"{curve[at, 1]:.1f} | {half} | {curve[:, 2].sum():.0f} |"
            )
            rounds = np.arange(1, len(curve) + 1)
            style = LINE_STYLES[deciders.index(decider) % len(LINE_STYLES)]
            for column in (0, 1):  # equal curves stay visible: own dashes and markers
                row_axes[column].plot(rounds, curve[:, column], label=decider, **style)
        row_axes[0].set_ylabel(f"alive ({encoding}, +{replenish:g} J/round)", fontsize=8)
        row_axes[1].set_ylabel(f"at the highest level ({encoding})", fontsize=8)
    axes[0][0].set_title("alive sensors", fontsize=9)
    axes[0][1].set_title("sensors at the highest energy level (>= 90 %)", fontsize=9)
    for axis in axes[-1]:
        axis.set_xlabel("round")
    axes[0][0].legend(fontsize=7)
    image = save_png(figure, out, "mozib-sensors")
    claim = (
        "mozib Figs. 7-8: its distributed-DNN approach keeps more sensors alive over the rounds, "
        "and more sensors at the highest energy level, than iLEACH (Fig. 9's example: 50 alive "
        "at round 1, 18 at round 10, with a fixed energy per round). mozib gives no numbers for "
        "either axis. Here: 100 sensors on a 100 m x 100 m field, the base station and edge "
        "server at (50, 175) m, ResNet-50 inference per sensor and round, LEACH's radio energy; "
        "means over the seeds (sim.sensors and docs/results.md say what each decider does)."
    )
    return page(claim, lines, image)


BALANCERS = ("edge+random", "edge+round-robin", "edge+lect")
# the balancing setting: servers, not the radio, are the bottleneck (one 100 MHz channel each)
BALANCE_SIM = {"scenario": "zhang2026", "bandwidth_hz": 1e8, "channels": 6, "devices": 6,
               "servers": 3}  # fmt: skip
BALANCE_LIVE = {"scenario": "zhang2026-small", "bandwidth_hz": 1e8, "channels": 4, "devices": 4}


def _balance_tasks(quick: bool, seeds: int | None) -> list[Task]:
    sim = [
        {"where": "simulator", **BALANCE_SIM, "policy": p, "seed": s}
        for p in (BALANCERS if quick else (*BALANCERS, "planner"))
        for s in range(seeds or (1 if quick else 3))
    ]
    live = [
        {"where": "live", **BALANCE_LIVE, "duration_s": 6.0 if quick else 20.0, "policy": p,
         "seed": 0}
        for p in (("edge+random", "edge+lect") if quick else BALANCERS)
    ]  # fmt: skip
    return sim + live


def balanced_run(task: Task) -> Row:
    """A simulator episode (its total latency, reward and energy per task), or a live run of
    ``task["duration_s"]`` seconds on 127.0.0.1 (tasks done, measured and predicted mean
    latency per task, and the share of offloaded tasks on the busiest server)."""
    if task["where"] == "simulator":
        return scenario_episode(task)
    from edgesplit.runtime.launcher import LiveConfig, run_live

    scenario = task_scenario(task)
    report = run_live(LiveConfig(scenario, task["policy"], devices=scenario.device_count,
                                 duration_s=task["duration_s"], seed=task["seed"]))  # fmt: skip
    tasks = report["tasks"]
    offloaded = [t["server"] for t in tasks if t["offloaded"]]
    busiest = max(np.bincount(offloaded)) / len(offloaded) if offloaded else 0.0
    return {
        "done": len(tasks),
        "measured_latency_s": float(np.mean([t["latency_s"] for t in tasks])),
        "predicted_latency_s": float(np.mean([t["predicted"]["latency_s"] for t in tasks])),
        "busiest_server_share": float(busiest),
    }


def _balance_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    sim = [(t, r) for t, r in zip(tasks, results, strict=True) if t["where"] == "simulator"]
    live = [(t, r) for t, r in zip(tasks, results, strict=True) if t["where"] == "live"]
    metrics = ("total_latency_s", "reward", "energy_per_task_j")
    mean = means([t for t, _ in sim], [r for _, r in sim], lambda t: (t["policy"],), metrics)
    lines = [
        f"Simulator: zhang2026 with {BALANCE_SIM['devices']} devices, {BALANCE_SIM['servers']} "
        f"servers and {BALANCE_SIM['channels']} channels of 100 MHz (means over the seeds):",
        "",
        "| decider | total latency (s) | reward | energy per task (J) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {p} | {m['total_latency_s']:.3g} | {m['reward']:.4g} | {m['energy_per_task_j']:.3g} |"
        for (p,), m in mean.items()
    ]
    lines += [
        "",
        f"Live (`edgesplit live`, 127.0.0.1): zhang2026-small with {BALANCE_LIVE['devices']} "
        f"devices on its 2 servers, {live[0][0]['duration_s']:g} s per decider:"
        if live
        else "",
        "",
        "| decider | tasks done | measured latency per task (ms) | predicted (ms) | busiest "
        "server's share of offloads |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t['policy']} | {r['done']:.0f} | {1e3 * r['measured_latency_s']:.0f} | "
        f"{1e3 * r['predicted_latency_s']:.0f} | {100 * r['busiest_server_share']:.0f} % |"
        for t, r in live
    ]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].bar(range(len(mean)), [m["total_latency_s"] for m in mean.values()])
    axes[0].set_xticks(range(len(mean)), [p for (p,) in mean], fontsize=7)
    axes[0].set_ylabel("simulated total latency (s)")
    for i, (_, r) in enumerate(live):
        axes[1].bar(i - 0.2, 1e3 * r["measured_latency_s"], 0.4, color="C0",
                    label="measured" if i == 0 else None)  # fmt: skip
        axes[1].bar(i + 0.2, 1e3 * r["predicted_latency_s"], 0.4, color="C1",
                    label="predicted" if i == 0 else None)  # fmt: skip
    axes[1].set_xticks(range(len(live)), [t["policy"] for t, _ in live], fontsize=7)
    axes[1].set_ylabel("live latency per task (ms)")
    axes[1].legend(fontsize=7)
    image = save_png(figure, out, "mozib-balancing")
    claim = (
        "mozib names dynamic load balancing across several edge servers as part of its framework "
        "and gives no figure for it. Here: every device offloads its inputs and a balancer picks "
        "its server: random, round-robin, or least expected completion (`edge+lect`: most work "
        "first, each to the server with the least assigned work), against the planner (which "
        "chooses cuts, channels, servers and powers together)."
    )
    return page(claim, lines, image)


EXPERIMENTS = [
    Experiment(
        "mozib-sensors",
        "mozib Figs. 7-9 (alive sensors and sensors at the highest energy level over rounds)",
        "100 sensors running ResNet-50 each round, raw or JPEG input, with and without 0.01 J "
        "of replenishment per round: local, edge, edgesplit's least-energy cut (direct, or with "
        "iLEACH's clusters) and iLEACH.",
        _sensor_tasks,
        sensor_rounds,
        _sensor_report,
    ),
    Experiment(
        "mozib-balancing",
        "mozib's dynamic load balancing across edge servers (no figure in the paper)",
        "Random, round-robin and least-expected-completion server choice for offloading "
        "devices (and the planner), in the simulator and live on 127.0.0.1; runs serially.",
        _balance_tasks,
        balanced_run,
        _balance_report,
        serial=True,
    ),
]
