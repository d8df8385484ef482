"""chukhno2023 Figs. 2-5, and zhang2026 Fig. 13's question, on real numbers from this machine.

    python -m edgesplit.experiments.chukhno2023 [--out docs/img/compress] [--quick]

Writes one CSV and one PNG per figure:

- ``fig2a_accuracy``: top-1/top-3 on scikit-learn's digits against the pruning factor,
  structured and unstructured, with and without a short fine-tune (a trained model here; the
  paper's ImageNet models are not available without a download);
- ``fig2b_pruning``: unstructured magnitude pruning time (pf 0.7) of the paper's models against
  0..N busy worker processes on this machine, the edge's pruning energy at 131.26 W, and the
  processor-share model placement uses;
- ``fig3_delay``: the total cycle delay (Q = 1) against the edge load for edge, device and split,
  full, pre-pruned and pruned on demand;
- ``fig4_data``, ``fig5_energy``: exchanged data and device energy against Q, with the
  3.7/11.1/18.5 Wh battery lines;
- ``fig13_codecs``: digits accuracy when the tensors crossing each cut travel at 32 .. 1 bits.

Models: DenseNet-201 and MobileNet-V2 (the paper's MobileNet) as the paper, ResNet-50 in place of
ResNet-152 (no 16-core reference profile of it), on the ``chukhno2023-device`` and
``chukhno2023-edge`` catalogue entries; pf 0.7 unstructured as the paper's magnitude pruning.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from edgesplit.experiments.plots import save_figure

MODELS = ("resnet50", "densenet201", "mobilenet_v2")
PAPER_NAMES = {"resnet50": "ResNet-50 (for ResNet-152)", "densenet201": "DenseNet-201",
               "mobilenet_v2": "MobileNet-V2"}  # fmt: skip
PF = 0.7
LOADS = (0, 2, 4, 8, 16, 32, 50, 75, 100)
REQUESTS = (1, 2, 5, 10, 20, 50, 100, 200, 300)


def _write(rows: list[dict], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def fig2a_accuracy(pfs: Sequence[float], epochs: int, finetune: int, seed: int) -> list[dict]:
    from edgesplit.compress.accuracy import accuracy_vs_pf, trained_digits_model

    model, data = trained_digits_model(seed, epochs)
    rows = []
    for method in ("structured", "unstructured"):
        for tune in (0, finetune):
            for r in accuracy_vs_pf(model, data, method, pfs, tune, seed):
                rows.append({"method": method, "finetune_epochs": tune, "pf": r.pf,
                             "top1": r.top1, "top3": r.top3, "params": r.params,
                             "nonzero_params": r.nonzero_params})  # fmt: skip
    return rows


def fig13_codecs(epochs: int, seed: int) -> list[dict]:
    from edgesplit.compress.accuracy import accuracy_vs_codec, trained_digits_model

    model, data = trained_digits_model(seed, epochs)
    codecs = ["fp32", "fp16", "int8", "int8-channel", "int6", "int4", "int3", "int2", "int1"]
    return [vars(r) for r in accuracy_vs_codec(model, data, codecs)]


def fig2b_pruning(models: Sequence[str], workers: Sequence[int], edge_cores: int) -> list[dict]:
    from edgesplit.compress.placement import EDGE_POWER_W
    from edgesplit.compress.prune import Variant
    from edgesplit.compress.report import prune_time_busy
    from edgesplit.costs.terms import load_stretch
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
_DASH = {"full": "-", "pruned": "--", "on demand": ":"}


def _panels(rows: list[dict], x: str, y: str, ylabel: str, path: Path, title: str,
            logx: bool = False, hlines: dict | None = None) -> Path:  # fmt: skip
    models = list(dict.fromkeys(r["model"] for r in rows))
    figure, axes = plt.subplots(1, len(models), figsize=(4.4 * len(models), 3.6), squeeze=False)
    for ax, name in zip(axes[0], models, strict=True):
        mine = [r for r in rows if r["model"] == name]
        for where in ("edge", "device", "split"):
            for form in ("full", "pruned", "on demand"):
                line = [r for r in mine if r["where"] == where and r["form"] == form]
                if line:
                    ax.plot([r[x] for r in line], [r[y] for r in line], _DASH[form],
                            color=_STYLE[where], label=f"{where}, {form}", marker=".")  # fmt: skip
        for label, value in (hlines or {}).items():
            ax.axhline(value, color="grey", linewidth=0.8)
            ax.text(0.02, value, label, transform=ax.get_yaxis_transform(), fontsize=7,
                    color="grey", va="bottom")  # fmt: skip
        ax.set_title(PAPER_NAMES.get(name, name), fontsize=9)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
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
    right = ax.twinx()
    for name in dict.fromkeys(r["model"] for r in rows):
        line = [r for r in rows if r["model"] == name]
        x = [r["busy_workers"] for r in line]
        shown = ax.plot(x, [r["prune_s"] for r in line], "-", marker=".", label=name)
        ax.plot(x, [r["share_model_s"] for r in line], ":", color=shown[0].get_color())
        right.plot(x, [r["edge_energy_j"] for r in line], "--", color=shown[0].get_color())
    right.set_ylabel("edge pruning energy J at 131.26 W (dashed)")
    _axes(ax, "busy worker processes on this machine", "pruning time s (solid; dotted: model)", 7)
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


def plot_placement(by_load: list[dict], by_q: list[dict], out: Path) -> None:
    """Figs. 3, 4 and 5 from the placement rows."""
    _panels(
        by_load,
        "edge_load",
        "latency_s",
        "total cycle delay s (Q = 1)",
        out / "fig3_delay.png",
        "Delay vs edge load (chukhno2023 Fig. 3), pf 0.7",
    )
    q_rows = [{**r, "data_mb": r["data_bits"] / 8e6} for r in by_q]
    _panels(
        q_rows,
        "requests",
        "data_mb",
        "exchanged data MB",
        out / "fig4_data.png",
        "Data vs Q (chukhno2023 Fig. 4), pf 0.7",
        logx=True,
    )
    batteries = {f"{wh} Wh": wh * 3600 for wh in (3.7, 11.1, 18.5)}
    _panels(
        by_q,
        "requests",
        "energy_j",
        "device energy J",
        out / "fig5_energy.png",
        "Device energy vs Q (chukhno2023 Fig. 5), pf 0.7",
        logx=True,
        hlines=batteries,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/compress"))
    parser.add_argument("--quick", action="store_true", help="fewer points (minutes -> seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    pfs = (0.0, 0.5, 0.9) if quick else (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    epochs = 10 if quick else 40
    models = ("mobilenet_v2",) if quick else MODELS
    workers = (0, 2) if quick else (0, 1, 2, 3, 4, 6, 8)
    loads = (0, 8, 100) if quick else LOADS
    requests = (1, 100) if quick else REQUESTS
    steps = [
        ("fig2a_accuracy", lambda: fig2a_accuracy(pfs, epochs, 5, args.seed), plot_accuracy),
        ("fig13_codecs", lambda: fig13_codecs(epochs, args.seed), plot_codecs),
        ("fig2b_pruning", lambda: fig2b_pruning(models, workers, 2), plot_pruning),
    ]
    for name, compute, plot in steps:
        start = time.perf_counter()
        rows = compute()
        _write(rows, args.out / f"{name}.csv")
        plot(rows, args.out / f"{name}.png")
        print(f"{name}: {len(rows)} rows in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    by_load, by_q = placement_rows(models, loads, requests, args.seed)
    _write(by_load, args.out / "fig3_delay.csv")
    _write(by_q, args.out / "fig4_5_data_energy.csv")
    plot_placement(by_load, by_q, args.out)
    print(f"figs 3-5: {len(by_load) + len(by_q)} rows in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
