"""``split-rate-accuracy``: what crosses a cut against what it keeps; ``split-early-exit``: how
many tasks an exit at a cut finishes on the device, and at what accuracy. For the shipped digits
classifiers (the 8x8 CNN and MobileNet-V2 on 32x32 copies), bits per image against top-1 for

- the learned bottlenecks edgesplit ships (``compress.bottleneck``; frozen tails at several rate
  weights and one fine-tuned tail per cut), range-coded;
- the wire's fixed codecs at the same cuts and at the latest cut where one value crosses (the
  classifier's input): fp32, fp16, int8 per tensor and per channel with zstd, and the affine
  code at 2-7 bits (counted as packed bits plus its 64-bit range);
- the input image sent as a file: raw 8-bit grey, PNG, JPEG at qualities 5-95.

Every image is coded on its own, as the runtime sends one request. The report gives, per model
and method, the fewest bits that keep top-1 within one point of the model's.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from edgesplit.experiments.harness import Experiment, image_link, page
from edgesplit.experiments.plots import save_figure
from edgesplit.experiments.sweep import Task
from edgesplit.graph import ModelGraph

ARCHS = ("digitsnet", "mobilenet_v2")
NAMES = {"digitsnet": "8x8 CNN (DigitsNet)", "mobilenet_v2": "MobileNet-V2, 32x32"}
AFFINE = ("int7", "int6", "int5", "int4", "int3", "int2")  # affine_roundtrip, not wire codecs
CODECS = ("fp32", "fp16", "int8", "int8+zstd", "int8-channel+zstd", *AFFINE)
QUALITIES = (5, 10, 25, 50, 75, 95)
LOSS_POINTS = 1.0  # the accuracy loss the report's table allows, in points of top-1
PLOTTED_POINTS = 25.0  # the figure shows top-1 down to this far below LOSS_POINTS's line
PARTS = ("bottlenecks", "codecs", "input")


def rate_rows(arch: str, part: str, codecs: tuple[str, ...], qualities: tuple[int, ...]) -> list:
    """One row per method of ``part`` for classifier ``arch``: family, method, cut position
    (None for the input), bits per image, top-1, top-3, and the model's own top-1."""
    from edgesplit.compress.accuracy import (
        accuracy_vs_codec,
        accuracy_vs_input_codec,
        digits_model,
        evaluate,
    )
    from edgesplit.compress.distill import bottleneck_split, score_bottleneck
    from edgesplit.compress.shipped import shipped_bottlenecks

    model, data = digits_model(arch=arch)
    model_top1, _ = evaluate(model, data)
    shipped = shipped_bottlenecks(arch)
    base = {"model": arch, "model_top1": model_top1}
    rows = []
    if part == "bottlenecks":
        graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name=arch)
        for path, _ in shipped:
            head, bottleneck, tail, info = bottleneck_split(model, graph, path)
            score = score_bottleneck(head, bottleneck, tail, data)
            family = "bottleneck, fine-tuned tail" if info.config.finetune else "bottleneck"
            rows.append({**base, "family": family, "method": info.name, "cut_position": info.cut,
                         "bits": score.coded_bits, "top1": score.top1, "top3": score.top3,
                         "ideal_bits": score.ideal_bits, "zstd_bits": score.zstd_bits})  # fmt: skip
    elif part == "codecs":
        graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name=arch)
        positions = sorted({info.cut for _, info in shipped} | {_latest_single_cut(graph)})
        for r in accuracy_vs_codec(model, data, list(codecs), "layer", positions):
            family = "affine 2-7 bits" if r.codec in AFFINE else r.codec
            rows.append({**base, "family": family, "method": r.codec, "cut_position": r.cut,
                         "bits": r.transfer_bits, "top1": r.top1, "top3": r.top3})  # fmt: skip
    else:
        for r in accuracy_vs_input_codec(model, data, list(qualities)):
            family = "input JPEG" if r.method.startswith("jpeg") else f"input {r.method}"
            rows.append({**base, "family": family, "method": r.method, "cut_position": None,
                         "bits": r.transfer_bits, "top1": r.top1, "top3": r.top3})  # fmt: skip
    return rows


def _latest_single_cut(graph) -> int:
    """The last cut before the all-local one where one value crosses (the classifier's input
    for these models): what the fixed codecs send at their cheapest."""
    return max(c.index for c in graph.cuts()[:-1] if len(c.crossing) == 1)


def fewest_bits(rows: list[dict], loss_points: float = LOSS_POINTS) -> dict[str, dict]:
    """Per family, the row with the fewest bits whose top-1 is within ``loss_points`` of the
    model's (families that never are: absent)."""
    best: dict[str, dict] = {}
    for row in rows:
        kept = 100 * (row["model_top1"] - row["top1"]) <= loss_points + 1e-9
        if kept and (row["family"] not in best or row["bits"] < best[row["family"]]["bits"]):
            best[row["family"]] = row
    return best


def _tasks(quick: bool, seeds: int | None) -> list[Task]:
    archs = ARCHS[:1] if quick else ARCHS
    codecs = ("fp32", "int8+zstd", "int4") if quick else CODECS
    qualities = (10, 75) if quick else QUALITIES
    return [{"model": a, "part": p, "codecs": codecs, "qualities": qualities}
            for a in archs for p in PARTS]  # fmt: skip


def _run(task: Task) -> list[dict]:
    return rate_rows(task["model"], task["part"], task["codecs"], task["qualities"])


_CUT_COLOURS = ("tab:blue", "tab:green", "tab:purple")
_FIXED_MARKERS = {"fp32": "o", "fp16": "s", "int8": "v", "int8+zstd": "D",
                  "int8-channel+zstd": "P"}  # fmt: skip


def plot_rate_accuracy(rows: list[dict], path: Path) -> Path:
    """Per model, top-1 against bits per image (log), every method: a colour per cut, a marker
    or line style per method (two legends); the dashed line is the model's top-1 less
    ``LOSS_POINTS``. Points below the axis (a collapsed bottleneck) are named in the report."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    archs = list(dict.fromkeys(r["model"] for r in rows))
    figure, axes = plt.subplots(1, len(archs), figsize=(5.6 * len(archs), 4.4), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        mine = [r for r in rows if r["model"] == arch]
        cuts = sorted({r["cut_position"] for r in mine if r["cut_position"] is not None})
        for cut, colour in zip(cuts, _CUT_COLOURS, strict=False):
            at = [r for r in mine if r["cut_position"] == cut]
            for family, style in (("affine 2-7 bits", ":"), ("bottleneck", "-o")):
                line = sorted((r for r in at if r["family"] == family), key=lambda r: r["bits"])
                ax.plot([r["bits"] for r in line], [100 * r["top1"] for r in line], style,
                        color=colour, linewidth=1.6, markersize=5)  # fmt: skip
            for r in at:
                marker = _FIXED_MARKERS.get(r["method"])
                if r["family"] == "bottleneck, fine-tuned tail":
                    ax.plot(r["bits"], 100 * r["top1"], "*", color=colour, markersize=12)
                elif marker:
                    ax.plot(r["bits"], 100 * r["top1"], marker, color=colour, markersize=5,
                            markerfacecolor="none")  # fmt: skip
        jpeg = sorted((r for r in mine if r["family"] == "input JPEG"), key=lambda r: r["bits"])
        ax.plot([r["bits"] for r in jpeg], [100 * r["top1"] for r in jpeg], "-^", color="black",
                markersize=4)  # fmt: skip
        for method, marker in (("raw8", "x"), ("png", "+")):
            for r in (r for r in mine if r["method"] == method):
                ax.plot(r["bits"], 100 * r["top1"], marker, color="black", markersize=8)
        floor = 100 * mine[0]["model_top1"] - LOSS_POINTS
        ax.axhline(floor, color="grey", linestyle="--", linewidth=0.9)
        ax.set_xscale("log")
        ax.set_ylim(max(0.0, floor - PLOTTED_POINTS), 100.5)
        ax.set_xlabel("bits per image (log)")
        ax.set_ylabel("top-1 on the test digits (%)")
        ax.set_title(NAMES.get(arch, arch), fontsize=9)
        places = [
            Patch(color=c, label=f"cut {cut}") for cut, c in zip(cuts, _CUT_COLOURS, strict=False)
        ]
        places.append(Patch(color="black", label="input (cut 0) as a file"))
        first = ax.legend(handles=places, fontsize=7, loc="lower right", title="where",
                          title_fontsize=7)  # fmt: skip
        ax.add_artist(first)
    methods = [
        Line2D([], [], color="grey", linestyle="-", marker="o", label="bottleneck (rate weights)"),
        Line2D([], [], color="grey", linestyle="", marker="*", markersize=10,
               label="bottleneck, fine-tuned tail"),
        Line2D([], [], color="grey", linestyle=":", label="affine 2-7 bits"),
        *(Line2D([], [], color="grey", linestyle="", marker=m, markerfacecolor="none", label=name)
          for name, m in _FIXED_MARKERS.items()),
        Line2D([], [], color="black", marker="^", markersize=4, label="input JPEG (q 5-95)"),
        Line2D([], [], color="black", linestyle="", marker="x", label="input raw 8-bit"),
        Line2D([], [], color="black", linestyle="", marker="+", label="input PNG"),
        Line2D([], [], color="grey", linestyle="--", label=f"{LOSS_POINTS:g} point below model"),
    ]  # fmt: skip
    axes[0][-1].legend(handles=methods, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       title="method", title_fontsize=7)  # fmt: skip
    return save_figure(figure, "Rate against accuracy at a cut (learned bottlenecks, codecs, "
                       "input files)", path)  # fmt: skip


def _report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    rows = [r for rs in results for r in rs]
    plot_rate_accuracy(rows, out / "split-rate-accuracy.png")
    lines = [
        f"| model (top-1) | method | fewest bits per image within {LOSS_POINTS:g} point | "
        "method, cut | top-1 |",
        "|---|---|---:|---|---:|",
    ]
    for arch in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == arch]
        best = fewest_bits(mine)
        label = f"{NAMES.get(arch, arch)} ({100 * mine[0]['model_top1']:.1f} %)"
        for family in dict.fromkeys(r["family"] for r in mine):
            if family not in best:
                lines.append(f"| {label} | {family} | none reaches it | | |")
                continue
            r = best[family]
            where = "input" if r["cut_position"] is None else f"cut {r['cut_position']}"
            lines.append(f"| {label} | {family} | {r['bits']:.0f} | {r['method']}, {where} | "
                         f"{100 * r['top1']:.1f} % |")  # fmt: skip
    below = [r for r in rows
             if 100 * r["top1"] < 100 * r["model_top1"] - LOSS_POINTS - PLOTTED_POINTS]  # fmt: skip
    if below:
        lines += ["", "Below the figure's range: " + "; ".join(
            f"{r['method']} ({100 * r['top1']:.1f} % at {r['bits']:.0f} bits)" for r in below
        ) + "."]  # fmt: skip
    claim = (
        "Supervised compression at the split point (head-network distillation, the Entropic "
        "Student, SC2) claims the accuracy of the unsplit model at a fraction of the bits of "
        "fixed codecs; zhang2026 Fig. 13 and chukhno2023 Fig. 2a ask what precision lost at "
        "the cut costs. Here, on scikit-learn's digits (the only image data a package ships): "
        "bits per image against top-1 for the shipped bottlenecks, the wire's codecs and the "
        "affine code at the same cuts, and the input sent as a file (cuts by index from 0, "
        "as everywhere in edgesplit: cut 0 sends the input tensor). The digits carry little "
        "information (8x8 pixels of 17 grey levels, upsampled for MobileNet-V2): the rates "
        "here are those of these images, not of photographs, and JPEG's and PNG's headers "
        "weigh more than their pixels."
    )
    return page(claim, lines, image_link("split-rate-accuracy"))


def exit_rows(arch: str) -> list[dict]:
    """One row per shipped exit of classifier ``arch`` and threshold: the share of test images
    that exit and the accuracy of device and server together, scored from the shipped weights."""
    from edgesplit.compress.accuracy import digits_model, evaluate
    from edgesplit.compress.distill import bottleneck_halves
    from edgesplit.compress.exits import load_exit
    from edgesplit.compress.shipped import score_exit, shipped_exits

    model, data = digits_model(arch=arch)
    model_top1, _ = evaluate(model, data)
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name=arch)
    rows = []
    for path, info in shipped_exits(arch):
        exit_head, _ = load_exit(path)
        head, _, _ = bottleneck_halves(model, graph, info.cut)
        for point in score_exit(model, head, exit_head, data):
            rows.append({"model": arch, "model_top1": model_top1, "cut_position": info.cut,
                         **vars(point)})  # fmt: skip
    return rows


def _exit_tasks(quick: bool, seeds: int | None) -> list[Task]:
    return [{"model": a} for a in (ARCHS[:1] if quick else ARCHS)]


def _exit_run(task: Task) -> list[dict]:
    return exit_rows(task["model"])


def plot_exits(rows: list[dict], path: Path) -> Path:
    """Per model, top-1 of device and server together against the share of tasks that exit,
    one line per cut through the thresholds (the lowest and highest labelled)."""
    archs = list(dict.fromkeys(r["model"] for r in rows))
    figure, axes = plt.subplots(1, len(archs), figsize=(5.2 * len(archs), 4.0), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        mine = [r for r in rows if r["model"] == arch]
        cuts = sorted({r["cut_position"] for r in mine})
        for index, (cut, colour) in enumerate(zip(cuts, _CUT_COLOURS, strict=False)):
            at = [r for r in mine if r["cut_position"] == cut]
            line = sorted(at, key=lambda r: r["threshold"])
            ax.plot([100 * r["exit_rate"] for r in line], [100 * r["top1"] for r in line], "-o",
                    color=colour, markersize=4, zorder=3, label=f"exit at cut {cut}")  # fmt: skip
            # the lowest threshold (most exits) left of its point, the highest below it, each
            # cut's labels a line apart
            for r, offset in ((line[0], (-22, 2 + 9 * index)), (line[-1], (2, -12 - 9 * index))):
                ax.annotate(f"{r['threshold']:g}", (100 * r["exit_rate"], 100 * r["top1"]),
                            fontsize=7, color=colour, textcoords="offset points",
                            xytext=offset)  # fmt: skip
        model_top1 = 100 * mine[0]["model_top1"]
        ax.axhline(model_top1, color="black", linestyle=":", linewidth=1.2, zorder=2,
                   label="the model alone (an exit line on it: no loss)")  # fmt: skip
        ax.axhline(model_top1 - LOSS_POINTS, color="grey", linestyle="--", linewidth=0.9,
                   label=f"{LOSS_POINTS:g} point below the model")  # fmt: skip
        ax.set_xlim(-4, 108)
        ax.margins(y=0.08)
        ax.set_xlabel("tasks that exit on the device (%)")
        ax.set_ylabel("top-1, device and server together (%)")
        ax.set_title(NAMES.get(arch, arch), fontsize=9)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    return save_figure(figure, "Early exits at a cut: tasks finished on the device against "
                       "accuracy (labels: confidence thresholds)", path)  # fmt: skip


def _exit_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    rows = [r for rs in results for r in rs]
    plot_exits(rows, out / "split-early-exit.png")
    lines = [
        f"| model (top-1) | exit at | most tasks exiting within {LOSS_POINTS:g} point | "
        "threshold | top-1 | exiting at threshold 0.99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for arch in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == arch]
        label = f"{NAMES.get(arch, arch)} ({100 * mine[0]['model_top1']:.1f} %)"
        for cut in sorted({r["cut_position"] for r in mine}):
            at = [r for r in mine if r["cut_position"] == cut]
            kept = [r for r in at if 100 * (r["model_top1"] - r["top1"]) <= LOSS_POINTS + 1e-9]
            best = max(kept, key=lambda r: r["exit_rate"])
            strict = next(r for r in at if r["threshold"] == 0.99)
            lines.append(f"| {label} | cut {cut} | {100 * best['exit_rate']:.1f} % | "
                         f"{best['threshold']:g} | {100 * best['top1']:.1f} % | "
                         f"{100 * strict['exit_rate']:.1f} % |")  # fmt: skip
    claim = (
        "Early exits (BranchyNet; DNN surgery's and PORTEND's exits) finish a task on the device "
        "when a side classifier at a cut is confident, and then nothing is sent. Here, on the "
        "shipped digits classifiers with the shipped exits (a 3x3 convolution, pooling and a "
        "linear layer, distilled from the model): per confidence threshold, the share of test "
        "images that exit and the accuracy of the answers device and server give together "
        "(the exit's where it exits, the whole model's elsewhere). Cuts by index from 0."
    )
    return page(claim, lines, image_link("split-early-exit"))


EXPERIMENTS = [
    Experiment(
        "split-rate-accuracy",
        "supervised compression at the cut (SC2, Entropic Student); zhang2026 Fig. 13",
        "Bits per image against top-1 for learned bottlenecks, fixed codecs and input files, "
        "for the shipped digits classifiers.",
        _tasks,
        _run,
        _report,
    ),
    Experiment(
        "split-early-exit",
        "early exits at a cut (BranchyNet, DNN surgery, PORTEND)",
        "Share of tasks that exit on the device, and the accuracy of device and server together, "
        "against the exit's confidence threshold, for the shipped digits classifiers.",
        _exit_tasks,
        _exit_run,
        _exit_report,
    ),
]
