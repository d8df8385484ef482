"""mozib's figures as experiments: alive sensors and sensors at the highest energy level over
rounds (its Figs. 7-9) for edgesplit's deciders against an iLEACH-style clustering protocol,
with and without energy replenishment (``sim.sensors`` says how each is built), and the
system's energy against the number of sensors (Fig. 3); a CNN with and without BatchNorm, and
with its BatchNorms folded, over time frames and training samples (Figs. 4-5); compression
against fine-tuning steps (Fig. 6); load balancing across edge servers (random, round-robin,
least expected completion, the planner) in the simulator and with ``edgesplit live``.

mozib defines neither its "normalised system utility" nor its CNN ("DSLO-CNN"); the readings
here (each experiment's page says it): the utility is the device's inference energy per
correct answer (measured inference time x a constant power, which the normalisation cancels)
relative to the CNN with BatchNorm trained on all the digits, and the CNN is the shipped
digits network (``compress.accuracy.DigitsNet``)."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

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


ENERGY_SENSORS = (10, 20, 30, 40, 50)  # mozib Fig. 3's N


def _energy_tasks(quick: bool, seeds: int | None) -> list[Task]:
    return [
        {"model": "resnet50", "encoding": "JPEG", "input_bits": jpeg_input_bits(),
         "replenish_j_per_round": 0.0, "sensors": n, "rounds": REPORT_ROUND, "decider": d,
         "seed": s}
        for n in ((10, 50) if quick else ENERGY_SENSORS)
        for d in (("edgesplit", "ileach") if quick else SENSOR_DECIDERS)
        for s in range(seeds or (1 if quick else 5))
    ]  # fmt: skip


def sensor_energy(task: Task) -> Row:
    """``sensor_rounds`` summed: the energy the field spends per round and per inference done
    over its rounds, and the sensors alive at the last."""
    rows = sensor_rounds(task)
    spent = sum(r["spent_j"] for r in rows)
    done = sum(r["completed"] for r in rows)
    return {"energy_per_round_j": spent / len(rows), "energy_per_inference_j": spent / done,
            "alive_at_end": rows[-1]["alive"]}  # fmt: skip


def _energy_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    metrics = ("energy_per_round_j", "energy_per_inference_j", "alive_at_end")
    mean = means(tasks, results, lambda t: (t["decider"], t["sensors"]), metrics)
    deciders = list(dict.fromkeys(d for d, _ in mean))
    counts = sorted({n for _, n in mean})
    lines = [
        f"| decider | sensors | energy per round (J) | energy per inference done (J) | alive "
        f"after round {tasks[0]['rounds']} |",
        "|---|---:|---:|---:|---:|",
    ]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, decider in enumerate(deciders):
        rows = [mean[(decider, n)] for n in counts]
        lines += [
            f"| {decider} | {n} | {m['energy_per_round_j']:.3g} | "
            f"{m['energy_per_inference_j']:.3g} | {m['alive_at_end']:.1f} |"
            for n, m in zip(counts, rows, strict=True)
        ]
        style = {**LINE_STYLES[i % len(LINE_STYLES)], "markevery": 1}
        for axis, metric in zip(axes, metrics[:2], strict=False):
            axis.plot(counts, [m[metric] for m in rows], label=decider, **style)
    axes[0].set_ylabel("system energy per round (J)")
    axes[1].set_ylabel("energy per inference done (J)")
    for axis in axes:
        axis.set_xlabel("sensors N")
    axes[0].legend(fontsize=7)
    image = save_png(figure, out, "mozib-energy")
    claim = (
        "mozib Fig. 3: the system's energy (its 'utility', to be minimised) against the number "
        "of sensors N; its example grows linearly, 10 J per round at N = 10 to 50 J at N = 50 "
        "(a fixed energy per sensor and round, no replenishment). Here: the field of "
        "mozib-sensors (100 m x 100 m, ResNet-50 on a JPEG input each round, LEACH's radio "
        f"energy) with N sensors for {tasks[0]['rounds']} rounds; means over the seeds. Energy "
        "per round falls once sensors die, so the energy per inference done is the fairer "
        "measure."
    )
    return page(claim, lines, image)


FRAMES = 50  # mozib Fig. 4's time frames
ARRIVALS_PER_FRAME = 5.0  # inference tasks per frame (Poisson)
DIGITS_STEPS = 880  # the shipped digits model's training: 40 epochs of 22 batches
TRAINING_SAMPLES = (50, 100, 200, 400, 800, 1347)  # 1347: the whole training split


def inference_times_s(
    models: dict[str, Any], x: Any, rounds: int = 5, repeats: int = 10
) -> dict[str, float]:
    """Each model's median batch-1 inference time on one thread (``profile.measure.time_call``),
    the models taking turns for ``rounds`` rounds so that they share whatever else the machine
    does."""
    import torch

    from edgesplit.graph.trace import torch_threads
    from edgesplit.profile.measure import time_call

    samples: dict[str, list[float]] = {name: [] for name in models}
    with torch_threads(1), torch.no_grad():
        for _ in range(rounds):
            for name, model in models.items():
                call = functools.partial(model, x)
                samples[name].append(time_call(call, 2, repeats, "cpu").median_s)
    return {name: float(np.median(times)) for name, times in samples.items()}


def _batchnorm_tasks(quick: bool, seeds: int | None) -> list[Task]:
    return [
        {"samples": n, "steps": 88 if quick else DIGITS_STEPS, "seed": s}
        for n in ((100, 1347) if quick else TRAINING_SAMPLES)
        for s in range(seeds or (1 if quick else 2))
    ]


def batchnorm_run(task: Task) -> Row:
    """The digits CNN with BatchNorm and without, trained on ``samples`` training images for
    about ``steps`` Adam steps (the shipped weights where they are that model); top-1 of each,
    and the batch-1 inference time of each and of the first with its BatchNorms folded."""
    import torch
    from torch import fx

    from edgesplit.compress.accuracy import (
        DigitsNet,
        digits_data,
        digits_model,
        digits_subset,
        evaluate,
        train,
    )
    from edgesplit.compress.fold import fold_batchnorm

    seed, samples = task["seed"], task["samples"]
    data = digits_subset(digits_data(seed), samples, seed)
    epochs = max(1, round(task["steps"] / math.ceil(samples / 64)))
    trained = {}
    for name, batchnorm in (("with BN", True), ("without BN", False)):
        if batchnorm and samples == len(digits_data(seed).y_train) and epochs == 40:
            trained[name] = digits_model(seed, epochs)[0]  # shipped (seed 0) or the same training
            continue
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = DigitsNet(batchnorm=batchnorm)
        trained[name] = train(model, data, epochs, seed)
    models = {name: fx.symbolic_trace(model) for name, model in trained.items()}
    models["with BN, folded"] = fold_batchnorm(models["with BN"])[0]
    times = inference_times_s(models, data.x_test[:1])
    row: Row = {"epochs": epochs}
    for name, model in models.items():
        row[f"top1 {name}"] = evaluate(model, data)[0]
        row[f"time_s {name}"] = times[name]
    return row


BN_VARIANTS = ("with BN", "with BN, folded", "without BN")


def _batchnorm_report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    # each time relative to the BatchNorm model's in the same task (one architecture whatever
    # the training: what the machine did meanwhile cancels)
    relative = [{**r, **{f"relative {v}": r[f"time_s {v}"] / r["time_s with BN"]
                         for v in BN_VARIANTS}} for r in results]  # fmt: skip
    metrics = tuple(f"{m} {v}" for m in ("top1", "time_s", "relative") for v in BN_VARIANTS)
    mean = means(tasks, relative, lambda t: (t["samples"],), metrics)
    counts = sorted(n for (n,) in mean)
    full = mean[(counts[-1],)]

    def utility(m: dict[str, float], variant: str) -> float:  # energy per correct answer
        return m[f"relative {variant}"] / m[f"top1 {variant}"]

    reference = utility(full, "with BN")
    lines = [
        "| training samples | top-1 with BN (= folded) | top-1 without BN | ms per inference "
        "with BN | folded | without BN | normalised utility with BN | folded | without BN |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in counts:
        m = mean[(n,)]
        lines.append(
            f"| {n} | {m['top1 with BN']:.3f} | {m['top1 without BN']:.3f} | "
            + " | ".join(f"{1e3 * m[f'time_s {v}']:.3f}" for v in BN_VARIANTS) + " | "
            + " | ".join(f"{utility(m, v) / reference:.3f}" for v in BN_VARIANTS) + " |"
        )  # fmt: skip
    arrivals = np.random.default_rng(0).poisson(ARRIVALS_PER_FRAME, FRAMES).cumsum()
    frames = np.arange(1, FRAMES + 1)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, variant in enumerate(BN_VARIANTS):
        style = LINE_STYLES[i % len(LINE_STYLES)]
        share = arrivals * full[f"relative {variant}"] / arrivals[-1]
        axes[0].plot(frames, share, label=variant, **style)
        axes[1].plot(counts, [utility(mean[(n,)], variant) / reference for n in counts],
                     label=variant, **{**style, "markevery": 1})  # fmt: skip
    axes[0].set_xlabel("time frame t")
    axes[0].set_ylabel("normalised cumulative energy")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("training samples")
    axes[1].set_ylabel("normalised energy per correct answer")
    axes[0].legend(fontsize=7)
    image = save_png(figure, out, "mozib-batchnorm")
    epochs = ", ".join(f"{t['samples']}: {r['epochs']}" for t, r in zip(tasks, results,
                                                                       strict=True)
                       if t["seed"] == 0)  # fmt: skip
    claim = (
        "mozib Fig. 4: over time frames, its CNN with BatchNorm (w/ BN) takes more energy than "
        "the same CNN without (w/o BN); Fig. 5: the normalised system utility against the "
        "number of training samples (no numbers; it says the curve falls if the metric is "
        "energy). Our reading: the shipped digits CNN (three 3x3 convolutions) with BatchNorm, "
        "the same with its BatchNorms folded into the convolutions (`compress.fold`: the same "
        "function, one operator fewer per pair) and the network trained without BatchNorm; "
        "energy = the measured batch-1 inference time on one thread x a constant power (which "
        "the normalisation cancels), each model's time taken relative to the BatchNorm model's "
        "measured in the same task; Fig. 4's frames bring Poisson arrivals "
        f"({ARRIVALS_PER_FRAME:g} per frame, seed 0) to the models trained on all "
        f"{counts[-1]} training images, normalised by the BatchNorm model's total; Fig. 5's "
        "utility is energy per correct answer (time / top-1 on the held-out quarter) relative "
        f"to the BatchNorm model on all images. Each model trains about {tasks[0]['steps']} "
        f"Adam steps (epochs per sample count: {epochs}); means over the seeds. The times "
        "and the top-1 of the networks trained here depend on this machine's CPU (the "
        "BatchNorm model on all images at seed 0 is the shipped one)."
    )
    return page(claim, lines, image)


PRUNE_FACTOR = 0.5
FINETUNE_EPOCHS = (0, 1, 2, 4, 8, 16)


def _finetune_tasks(quick: bool, seeds: int | None) -> list[Task]:
    return [{"epochs": (0, 2) if quick else FINETUNE_EPOCHS, "pf": PRUNE_FACTOR, "seed": s}
            for s in range(seeds or (1 if quick else 3))]  # fmt: skip


def finetune_run(task: Task) -> list[dict]:
    """The shipped digits CNN pruned at ``pf`` (structured and unstructured) and fine-tuned for
    each of ``epochs`` (seeded by ``seed``): top-1, and the batch-1 inference time of the
    unpruned model, of each pruned one and of the structured one with its BatchNorms folded."""
    from torch import fx

    from edgesplit.compress.accuracy import digits_model, evaluate, pruned_copy
    from edgesplit.compress.fold import fold_batchnorm

    model, data = digits_model()
    rows = []
    for epochs in task["epochs"]:
        pruned = {
            method: pruned_copy(model, data, method, task["pf"], epochs, task["seed"])
            for method in ("structured", "unstructured")
        }
        models = {"unpruned": fx.symbolic_trace(model)}
        models |= {method: fx.symbolic_trace(net) for method, net in pruned.items()}
        models["structured, folded"] = fold_batchnorm(models["structured"])[0]
        times = inference_times_s(models, data.x_test[:1])
        rows += [{"epochs": epochs, "variant": name, "top1": evaluate(net, data)[0],
                  "time_s": times[name]} for name, net in models.items()]  # fmt: skip
    return rows


def _finetune_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    plt = pyplot()
    flat = [row for rows in results for row in rows]
    mean = means(flat, flat, lambda r: (r["variant"], r["epochs"]), ("top1", "time_s"))
    variants = list(dict.fromkeys(v for v, _ in mean))
    epochs = sorted({e for _, e in mean})
    reference = {e: mean[("unpruned", e)]["time_s"] / mean[("unpruned", e)]["top1"]
                 for e in epochs}  # fmt: skip
    batches = math.ceil(1347 / 64)
    lines = [
        "| variant | fine-tuning epochs (Adam steps) | top-1 | ms per inference | normalised "
        "utility |",
        "|---|---:|---:|---:|---:|",
    ]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, variant in enumerate(variants):
        rows = [mean[(variant, e)] for e in epochs]
        utility = [m["time_s"] / m["top1"] / reference[e] for m, e in zip(rows, epochs,
                                                                         strict=True)]  # fmt: skip
        lines += [
            f"| {variant} | {e} ({e * batches}) | {m['top1']:.3f} | {1e3 * m['time_s']:.3f} | "
            f"{u:.3f} |"
            for e, m, u in zip(epochs, rows, utility, strict=True)
        ]
        style = {**LINE_STYLES[i % len(LINE_STYLES)], "markevery": 1}
        same = " (= structured)" if variant == "structured, folded" else ""  # the same weights
        axes[0].plot(epochs, utility, label=variant, **style)
        axes[1].plot(epochs, [m["top1"] for m in rows], label=variant + same, **style)
    for axis in axes:
        axis.set_xscale("symlog", base=2, linthresh=1)
        axis.set_xticks(epochs, [str(e) for e in epochs])
        axis.set_xlabel(f"fine-tuning epochs ({batches} Adam steps each)")
    axes[0].set_ylabel("normalised energy per correct answer")
    axes[1].set_ylabel("top-1 (held-out quarter)")
    axes[1].legend(fontsize=7)
    image = save_png(figure, out, "mozib-finetuning")
    claim = (
        "mozib Fig. 6: the normalised system utility against fine-tuning steps; its proposed "
        "approach (compression among its parts) outperforms the benchmarks (no numbers). Our "
        f"reading: the shipped digits CNN pruned at pf {tasks[0]['pf']:g}, structured (channels "
        "removed: fewer operations) and unstructured (weights zeroed: a dense CPU does the same "
        "work), fine-tuned with Adam for 0 to a few epochs of the training split; the proposed "
        "model is the structured one with its BatchNorms folded. Utility: energy per correct "
        "answer (measured batch-1 time on one thread / top-1) relative to the unpruned model's, "
        "measured in the same run; means over the fine-tuning seeds. Times and the fine-tuned "
        "top-1 depend on this machine's CPU; the unpruned model is the shipped one."
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
    axes[0].set_xlabel("decider")
    for i, (_, r) in enumerate(live):
        axes[1].bar(i - 0.2, 1e3 * r["measured_latency_s"], 0.4, color="C0",
                    label="measured" if i == 0 else None)  # fmt: skip
        axes[1].bar(i + 0.2, 1e3 * r["predicted_latency_s"], 0.4, color="C1",
                    label="predicted" if i == 0 else None)  # fmt: skip
    axes[1].set_xticks(range(len(live)), [t["policy"] for t, _ in live], fontsize=7)
    axes[1].set_ylabel("live latency per task (ms)")
    axes[1].set_xlabel("decider")
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
        "mozib-energy",
        "mozib Fig. 3 (system energy against the number of sensors)",
        "10 to 50 sensors running ResNet-50 on a JPEG input each round for 10 rounds: energy per "
        "round and per inference for local, edge, edgesplit's least-energy cut (direct or with "
        "iLEACH's clusters) and iLEACH.",
        _energy_tasks,
        sensor_energy,
        _energy_report,
    ),
    Experiment(
        "mozib-batchnorm",
        "mozib Figs. 4-5 (a CNN with and without BatchNorm over time frames and training samples)",
        "The digits CNN with BatchNorm, with its BatchNorms folded and without BatchNorm, trained "
        "on 50 to 1,347 images: top-1, measured inference time, and energy per correct answer.",
        _batchnorm_tasks,
        batchnorm_run,
        _batchnorm_report,
    ),
    Experiment(
        "mozib-finetuning",
        "mozib Fig. 6 (compression against fine-tuning steps)",
        "The shipped digits CNN pruned at pf 0.5, structured and unstructured, fine-tuned 0 to "
        "16 epochs: top-1, measured inference time and energy per correct answer against the "
        "unpruned model's.",
        _finetune_tasks,
        finetune_run,
        _finetune_report,
    ),
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
