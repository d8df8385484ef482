"""chukhno2023 Figs. 2-5, and zhang2026 Fig. 13's question, on real numbers from this machine, as
``edgesplit reproduce`` experiments:

- ``chukhno2023-accuracy`` (Fig. 2a): top-1/top-3 on scikit-learn's digits against the pruning
  factor, structured and unstructured, with and without a short fine-tune (a trained model
  here; the paper's ImageNet models are not available without a download);
- ``chukhno2023-pruning`` (Fig. 2b): unstructured magnitude pruning time (pf 0.7) of the paper's
  models against 0..N busy worker processes on this machine, the edge's pruning energy at
  131.26 W, and the processor-share model placement uses;
- ``chukhno2023-placement`` (Figs. 3-5): the total cycle delay (Q = 1) against the edge load for
  edge, device and split, full, pre-pruned and pruned on demand; exchanged data and device
  energy against Q, with the 3.7/11.1/18.5 Wh battery lines;
- ``zhang2026-precision`` (zhang2026 Fig. 13): digits accuracy when the tensors crossing each
  cut travel at 32 .. 1 bits.

Models: DenseNet-201 and MobileNet-V2 (the paper's MobileNet) as the paper, ResNet-50 in place of
ResNet-152 (no 16-core reference profile of it), on the ``chukhno2023-device`` and
``chukhno2023-edge`` catalogue entries; pf 0.7 unstructured as the paper's magnitude pruning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from edgesplit.costs.terms import load_stretch
from edgesplit.experiments.harness import Experiment, image_link, page
from edgesplit.experiments.plots import save_figure
from edgesplit.experiments.sweep import Task

MODELS = ("resnet50", "densenet201", "mobilenet_v2")
PAPER_NAMES = {"resnet50": "ResNet-50 (for ResNet-152)", "densenet201": "DenseNet-201",
               "mobilenet_v2": "MobileNet-V2"}  # fmt: skip
PF = 0.7
LOADS = (0, 2, 4, 8, 16, 32, 50, 75, 100)
REQUESTS = (1, 2, 5, 10, 20, 50, 100, 200, 300)


def fig2a_accuracy(pfs: Sequence[float], epochs: int, finetune: int, seed: int) -> list[dict]:
    from edgesplit.compress.accuracy import accuracy_vs_pf, digits_model

    model, data = digits_model(seed, epochs)
    rows = []
    for method in ("structured", "unstructured"):
        for tune in (0, finetune):
            for r in accuracy_vs_pf(model, data, method, pfs, tune, seed):
                rows.append({"method": method, "finetune_epochs": tune, "pf": r.pf,
                             "top1": r.top1, "top3": r.top3, "params": r.params,
                             "nonzero_params": r.nonzero_params})  # fmt: skip
    return rows


def fig13_codecs(epochs: int, seed: int) -> list[dict]:
    from edgesplit.compress.accuracy import accuracy_vs_codec, digits_model

    model, data = digits_model(seed, epochs)
    codecs = ["fp32", "fp16", "int8", "int8-channel", "int6", "int4", "int3", "int2", "int1"]
    return [vars(r) for r in accuracy_vs_codec(model, data, codecs)]


def fig2b_pruning(models: Sequence[str], workers: Sequence[int], edge_cores: int) -> list[dict]:
    from edgesplit.compress.placement import EDGE_POWER_W
    from edgesplit.compress.prune import Variant
    from edgesplit.compress.report import prune_time_busy
    from edgesplit.graph.zoo import build_model, example_input

    rows = []
    for name in models:
        model, x = build_model(name), example_input(name)
        idle = None
        for n in workers:
            seconds = prune_time_busy(model, x, Variant("unstructured", PF), n)
            idle = seconds if idle is None else idle
            rows.append({"model": name, "busy_workers": n, "prune_s": seconds,
                         "edge_energy_j": EDGE_POWER_W * seconds,
                         "share_model_s": idle * float(load_stretch(n, edge_cores))})  # fmt: skip
    return rows


def placement_rows(
    models: Sequence[str], loads: Sequence[int], requests: Sequence[int], seed: int
) -> tuple[list[dict], list[dict]]:
    """(Fig. 3 rows: delay vs load at Q = 1; Figs. 4-5 rows: data and energy vs Q at load 0)."""
    from edgesplit.compress.placement import Radio, Sites, model_forms, place
    from edgesplit.compress.prune import Variant

    radio = Radio.umi(50.0, seed=seed)
    by_load, by_q = [], []
    for name in models:
        forms = model_forms(name, Variant("unstructured", PF), "block", seed=seed)
        for load in loads:
            for option in place(forms, Sites(edge_load=load), radio, 1).options:
                by_load.append({"model": name, "edge_load": load, **_row(option)})
        for q in requests:
            for option in place(forms, Sites(), radio, q).options:
                by_q.append({"model": name, "requests": q, **_row(option)})
    return by_load, by_q


def _row(option) -> dict:
    return {"where": option.where, "form": "on demand" if option.on_demand else option.model,
            "cut_index": option.cut.index, "latency_s": option.latency_s,
            "energy_j": option.energy_j, "data_bits": option.data_bits,
            "edge_energy_j": option.edge_energy_j}  # fmt: skip


_STYLE = {"edge": "tab:red", "device": "tab:blue", "split": "tab:green"}
# each form its own dashes and marker (full: filled, pruned: hollow), so the legend tells them
# apart; edge is drawn last and widest, so that a split curve equal to it does not hide it
_FORM = {
    "full": {"linestyle": "-", "marker": "o", "markersize": 4},
    "pruned": {"linestyle": "--", "marker": "s", "markersize": 4, "markerfacecolor": "none"},
    "on demand": {"linestyle": ":", "marker": "^", "markersize": 4},
}
_DRAWN = {"split": 1.2, "device": 1.6, "edge": 2.4}  # line widths, in drawing order
_BATTERY_DASHES = ("-.", (0, (5, 2)), (0, (1, 1)))


def _panels(rows: list[dict], x: str, y: str, ylabel: str, path: Path, title: str,
            logx: bool = False, hlines: dict | None = None) -> Path:  # fmt: skip
    models = list(dict.fromkeys(r["model"] for r in rows))
    figure, axes = plt.subplots(1, len(models), figsize=(4.4 * len(models), 3.6), squeeze=False)
    for ax, name in zip(axes[0], models, strict=True):
        mine = [r for r in rows if r["model"] == name]
        for where, width in _DRAWN.items():
            for form, style in _FORM.items():
                line = [r for r in mine if r["where"] == where and r["form"] == form]
                if line:
                    ax.plot([r[x] for r in line], [r[y] for r in line], color=_STYLE[where],
                            linewidth=width, label=f"{where}, {form}", **style)  # fmt: skip
        for (label, value), dashes in zip((hlines or {}).items(), _BATTERY_DASHES, strict=False):
            ax.axhline(value, color="grey", linewidth=0.9, linestyle=dashes, label=label)
        ax.set_title(PAPER_NAMES.get(name, name), fontsize=9)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()  # one legend, below the panels
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=5,
                  fontsize=7, frameon=False)  # fmt: skip
    return save_figure(figure, title, path, fontsize=10)


def _axes(ax, xlabel: str, ylabel: str, legend_size: float) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size, ncol=2 if len(ax.get_lines()) > 8 else 1)


def plot_accuracy(rows: list[dict], path: Path) -> Path:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, method in zip(axes, ("structured", "unstructured"), strict=True):
        for tune in sorted({r["finetune_epochs"] for r in rows}):
            line = [r for r in rows if r["method"] == method and r["finetune_epochs"] == tune]
            suffix = f", fine-tuned {tune} epochs" if tune else ""
            ax.plot([r["pf"] for r in line], [r["top1"] for r in line], "--", marker=".",
                    label=f"top-1{suffix}")  # fmt: skip
            ax.plot([r["pf"] for r in line], [r["top3"] for r in line], "-", marker=".",
                    label=f"top-3{suffix}")  # fmt: skip
        ax.set_title(f"{method} pruning", fontsize=9)
        _axes(ax, "pruning factor", "accuracy on digits (held-out quarter)", 7)
    return save_figure(
        figure, "Accuracy vs pruning factor (chukhno2023 Fig. 2a's shape)", path, fontsize=10
    )


def plot_pruning(rows: list[dict], path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(5.5, 3.8))
    power_w = rows[0]["edge_energy_j"] / rows[0]["prune_s"]  # the edge's power: energy = P t
    for name in dict.fromkeys(r["model"] for r in rows):
        line = [r for r in rows if r["model"] == name]
        x = [r["busy_workers"] for r in line]
        shown = ax.plot(x, [r["prune_s"] for r in line], "-", marker=".", label=name)
        ax.plot(x, [r["share_model_s"] for r in line], ":", color=shown[0].get_color())
    ax.set_xticks(sorted({r["busy_workers"] for r in rows}))
    right = ax.secondary_yaxis("right", functions=(lambda t: power_w * t, lambda e: e / power_w))
    right.set_ylabel(f"edge pruning energy (J) at {power_w:.2f} W (solid)")
    _axes(ax, "busy worker processes on this machine", "pruning time (s; dotted: model)", 7)
    return save_figure(
        figure, "Unstructured pruning (pf 0.7) under load (chukhno2023 Fig. 2b)", path, fontsize=10
    )


def plot_codecs(rows: list[dict], path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(6, 3.8))
    for cut in sorted({r["cut"] for r in rows}):
        line = sorted((r for r in rows if r["cut"] == cut and "channel" not in r["codec"]),
                      key=lambda r: r["bits"])  # fmt: skip
        ax.plot([r["bits"] for r in line], [r["top1"] for r in line], marker=".",
                label=f"cut {cut}")  # fmt: skip
    ax.set_xscale("log", base=2)
    _axes(ax, "bits per element of the crossing tensor", "top-1 on digits", 6)
    title = "Accuracy under intermediate-data precision loss (zhang2026 Fig. 13)"
    return save_figure(figure, title, path, fontsize=10)


def plot_placement(by_load: list[dict], by_q: list[dict], out: Path, name: str) -> None:
    """Figs. 3, 4 and 5 from the placement rows: ``out/NAME-fig3.png``, ``-fig4``, ``-fig5``."""
    _panels(
        by_load,
        "edge_load",
        "latency_s",
        "total cycle delay s (Q = 1)",
        out / f"{name}-fig3.png",
        "Delay vs edge load (chukhno2023 Fig. 3), pf 0.7",
    )
    q_rows = [{**r, "data_mb": r["data_bits"] / 8e6} for r in by_q]
    _panels(
        q_rows,
        "requests",
        "data_mb",
        "exchanged data MB",
        out / f"{name}-fig4.png",
        "Data vs Q (chukhno2023 Fig. 4), pf 0.7",
        logx=True,
    )
    batteries = {f"{wh} Wh": wh * 3600 for wh in (3.7, 11.1, 18.5)}
    _panels(
        by_q,
        "requests",
        "energy_j",
        "device energy J",
        out / f"{name}-fig5.png",
        "Device energy vs Q (chukhno2023 Fig. 5), pf 0.7",
        logx=True,
        hlines=batteries,
    )


def _accuracy_tasks(quick: bool, seeds: int | None) -> list[Task]:
    pfs = (0.0, 0.5, 0.9) if quick else (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    return [{"pfs": pfs, "epochs": 10 if quick else 40, "finetune": 5, "seed": s}
            for s in range(seeds or 1)]  # fmt: skip


def _accuracy_run(task: Task) -> list[dict]:
    return fig2a_accuracy(task["pfs"], task["epochs"], task["finetune"], task["seed"])


def _accuracy_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    rows = results[0]
    pfs = sorted({r["pf"] for r in rows})
    lines = [
        "| method | fine-tune epochs | " + " | ".join(f"pf {pf:g}" for pf in pfs) + " |",
        "|---|---:|" + "---:|" * len(pfs),
    ]
    for method in ("structured", "unstructured"):
        for tune in sorted({r["finetune_epochs"] for r in rows}):
            top1 = {r["pf"]: r["top1"] for r in rows
                    if r["method"] == method and r["finetune_epochs"] == tune}  # fmt: skip
            lines.append(f"| {method} top-1 | {tune} | "
                         + " | ".join(f"{top1[pf]:.3f}" for pf in pfs) + " |")  # fmt: skip
    plot_accuracy(rows, out / "chukhno2023-accuracy.png")
    claim = (
        "chukhno2023 Fig. 2a: magnitude pruning keeps top-1 and top-5 accuracy of ImageNet models "
        "stable to a pruning factor of about 0.7, then it drops. Here: scikit-learn's digits "
        f"(the first seed's trained `DigitsNet`, {tasks[0]['epochs']} epochs), pruned structured "
        "and unstructured, with and without a short fine-tune; top-1 on the held-out quarter."
    )
    return page(claim, lines, image_link("chukhno2023-accuracy"))


def _pruning_tasks(quick: bool, seeds: int | None) -> list[Task]:
    models = ("mobilenet_v2",) if quick else MODELS
    return [{"model": m, "busy_counts": (0, 2) if quick else (0, 1, 2, 3, 4, 6, 8),
             "edge_cores": 2} for m in models]  # fmt: skip


def _pruning_run(task: Task) -> list[dict]:
    return fig2b_pruning([task["model"]], task["busy_counts"], task["edge_cores"])


def _pruning_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    rows = [r for rs in results for r in rs]
    lines = ["| model | busy workers | pruning s | edge energy J | processor-share model s |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['model']} | {r['busy_workers']} | {r['prune_s']:.2f} | "
              f"{r['edge_energy_j']:.0f} | {r['share_model_s']:.2f} |" for r in rows]  # fmt: skip
    plot_pruning(rows, out / "chukhno2023-pruning.png")
    claim = (
        "chukhno2023 Fig. 2b: pruning time at the edge grows with its load, and with it the "
        "energy at 131.26 W. Here: unstructured magnitude pruning (pf 0.7) timed on this machine "
        "with 0..N busy worker processes, and the processor-share model placement uses (one task "
        "at a time: the busy workers are the load)."
    )
    return page(claim, lines, image_link("chukhno2023-pruning"))


def _placement_tasks(quick: bool, seeds: int | None) -> list[Task]:
    models = ("mobilenet_v2",) if quick else MODELS
    return [{"model": m, "loads": (0, 8, 100) if quick else LOADS,
             "request_counts": (1, 100) if quick else REQUESTS, "seed": s}
            for m in models for s in range(seeds or 1)]  # fmt: skip


def _placement_run(task: Task) -> list[dict]:
    by_load, by_q = placement_rows(
        [task["model"]], task["loads"], task["request_counts"], task["seed"]
    )
    return [{"figure": "fig3", **r} for r in by_load] + [{"figure": "fig4-5", **r} for r in by_q]


def _placement_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    rows = [r for rs in results for r in rs]
    by_load = [r for r in rows if r["figure"] == "fig3"]
    by_q = [r for r in rows if r["figure"] == "fig4-5"]
    plot_placement(by_load, by_q, out, "chukhno2023-placement")
    lines = ["| model | edge load | edge s | device s | split s |", "|---|---:|---:|---:|---:|"]
    for model in dict.fromkeys(r["model"] for r in by_load):
        for load in dict.fromkeys(r["edge_load"] for r in by_load):
            best = {
                where: min(r["latency_s"] for r in by_load if r["model"] == model
                           and r["edge_load"] == load and r["where"] == where)
                for where in ("edge", "device", "split")
            }  # fmt: skip
            lines.append(f"| {model} | {load} | {best['edge']:.3f} | {best['device']:.3f} | "
                         f"{best['split']:.3f} |")  # fmt: skip
    claim = (
        "chukhno2023 Figs. 3-5: beyond some edge load the device is faster than the edge, sooner "
        "for lighter models; over Q requests the edge exchanges the least data until the "
        "device's one download pays off; the device's energy grows with Q. Here: Eq. 1-6 on the "
        "catalogue's stand-in device and 4-core edge, pf 0.7 unstructured, plus split inference "
        "(the best cut, exact); the table holds each site's fastest form at Q = 1 "
        "(docs/compress.md compares every claim)."
    )
    figures = [image_link(f"chukhno2023-placement-{n}") for n in ("fig3", "fig4", "fig5")]
    return page(claim, lines, *figures)


def _precision_tasks(quick: bool, seeds: int | None) -> list[Task]:
    return [{"epochs": 10 if quick else 40, "seed": s} for s in range(seeds or 1)]


def _precision_run(task: Task) -> list[dict]:
    return fig13_codecs(task["epochs"], task["seed"])


def _precision_report(tasks: list[Task], results: list[list[dict]], out: Path) -> str:
    rows = results[0]
    codecs = list(dict.fromkeys(r["codec"] for r in rows))
    lines = ["| cut | " + " | ".join(codecs) + " |", "|---:|" + "---:|" * len(codecs)]
    for cut in sorted({r["cut"] for r in rows}):
        top1 = {r["codec"]: r["top1"] for r in rows if r["cut"] == cut}
        lines.append(f"| {cut} | " + " | ".join(f"{top1[c]:.3f}" for c in codecs) + " |")
    plot_codecs(rows, out / "zhang2026-precision.png")
    claim = (
        "zhang2026 Fig. 13: with lossless intermediate data ResNet-50 reaches 90.2 % on "
        "CIFAR-10; under its latency-driven precision-loss model EMH-PPO loses 6.35 points and "
        "the baselines 22.74-32.63. The paper does not say to what precision the data degrade, "
        "and with Table III as printed its offloading is slower than local inference "
        "(zhang2026-bandwidth), which would make its loss probability (latency / local latency) "
        "exceed 1. Here instead: top-1 on scikit-learn's digits (the first seed's `DigitsNet`) "
        "when the tensors crossing each cut travel at each precision, through the runtime's "
        "codecs (fp32, fp16, int8) and the same affine quantizer at 6 to 1 bits."
    )
    return page(claim, lines, image_link("zhang2026-precision"))


EXPERIMENTS = [
    Experiment(
        "chukhno2023-accuracy",
        "chukhno2023 Fig. 2a (accuracy against the pruning factor)",
        "Structured and unstructured pruning of a digits classifier trained here, with and "
        "without fine-tuning: top-1 and top-3 against the pruning factor.",
        _accuracy_tasks,
        _accuracy_run,
        _accuracy_report,
    ),
    Experiment(
        "chukhno2023-pruning",
        "chukhno2023 Fig. 2b (pruning time and energy against the edge load)",
        "Unstructured pruning (pf 0.7) of the paper's models timed under 0..8 busy worker "
        "processes; runs serially.",
        _pruning_tasks,
        _pruning_run,
        _pruning_report,
        serial=True,
    ),
    Experiment(
        "chukhno2023-placement",
        "chukhno2023 Figs. 3-5 (delay against the edge load; data and energy against Q)",
        "Edge, device and split inference, full, pre-pruned and pruned on demand, by Eq. 1-6.",
        _placement_tasks,
        _placement_run,
        _placement_report,
    ),
    Experiment(
        "zhang2026-precision",
        "zhang2026 Fig. 13 (accuracy under intermediate-data precision loss)",
        "Digits top-1 when the tensors crossing each cut travel at 32 down to 1 bits.",
        _precision_tasks,
        _precision_run,
        _precision_report,
    ),
]
