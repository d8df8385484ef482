"""PNG figures (matplotlib): shi2025's Observations 1 and 2, held-out predictions, and bar
charts of policy evaluations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np

from edgesplit.errors import EdgesplitError
from edgesplit.units import display

if TYPE_CHECKING:  # annotations only: importing them would load torch
    from edgesplit.experiments.predict_eval import Evaluation, Observation1, Observation2
    from edgesplit.policies.evaluate import Summary


def _grid(count: int) -> tuple[plt.Figure, np.ndarray]:
    columns = min(count, 3)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return figure, axes.flat


def unlabelled_axes(figure: plt.Figure) -> list[str]:
    """The axes of ``figure`` that show data without a label on an axis: an x label may sit on
    another axes of the same grid column (a shared x), a y label on one of the same row."""
    shown = [
        ax for ax in figure.axes
        if ax.get_visible() and (ax.lines or ax.patches or ax.collections or ax.images)
    ]  # fmt: skip
    spans = {ax: ax.get_subplotspec() for ax in shown}
    missing = []
    for ax in shown:
        span = spans[ax]
        for axis, same in (("x", "colspan"), ("y", "rowspan")):
            label = lambda a, axis=axis: getattr(a, f"get_{axis}label")()  # noqa: E731
            shared = [a for a in shown if span is None or spans[a] is None
                      or getattr(spans[a], same) == getattr(span, same)]  # fmt: skip
            if not label(ax) and not any(label(a) for a in shared):
                missing.append(f"{ax.get_title() or 'an axes'} has no {axis} label")
    return missing


def save_figure(figure: plt.Figure, title: str, path: Path, fontsize: float | None = None) -> Path:
    """Title, lay out, write (120 dpi) and close a figure; returns the path. A figure without a
    title or with an axis that shows data and names nothing (``unlabelled_axes``) is refused:
    every figure edgesplit writes says what it plots and in which units."""
    missing = ([] if title else ["the figure has no title"]) + unlabelled_axes(figure)
    if missing:
        plt.close(figure)
        raise EdgesplitError(f"figure {path.name}: {'; '.join(missing)}")
    figure.suptitle(title, fontsize=fontsize or 10)
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")  # legends placed outside the axes too
    plt.close(figure)
    return path


def plot_observation1(observations: Sequence[Observation1], path: Path) -> Path:
    """Latency against threads, measured (median) and shi2025 Eq. 7 fitted."""
    figure, axes = _grid(len(observations))
    for ax, obs in zip(axes, observations, strict=False):
        k = np.array(obs.threads, float)
        ax.plot(k, np.array(obs.latency_s) * 1e3, "o", label="measured (median)")
        fine = np.linspace(k.min(), k.max(), 200)
        ax.plot(fine, obs.fitted_s(fine) * 1e3, "-", label="Eq. 7 fit")
        ax.set_title(
            f"{obs.model}: {obs.speedup[obs.threads[-1]]:.1f}x at {obs.threads[-1]} threads"
        )
        ax.set_xlabel("threads")
        ax.set_ylabel("latency (ms)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    return save_figure(figure, "shi2025 Observation 1: latency against threads", path)


def plot_observation2(observations: Sequence[Observation2], path: Path) -> Path:
    """Tail / whole latency against the server's share of nodes (shi2025 Eq. 8) and of MACs."""
    figure, axes = _grid(len(observations))
    for ax, obs in zip(axes, observations, strict=False):
        ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="Eq. 8: ratio = share")
        ax.plot(obs.node_share, obs.ratio, "o-", label=f"share of nodes (R2 {obs.r2('nodes'):.2f})")
        ax.plot(obs.mac_share, obs.ratio, "s-", label=f"share of MACs (R2 {obs.r2('macs'):.2f})")
        ax.set_title(f"{obs.model} at {obs.threads} thread{'s' if obs.threads > 1 else ''}")
        ax.set_xlabel("share of the model on the server")
        ax.set_ylabel("tail / whole latency")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(
        figure, "shi2025 Observation 2: latency ratio against partition proportion", path
    )


def plot_predictions(
    evaluations: Sequence[Evaluation], predictors: Sequence[str], path: Path
) -> Path:
    """Predicted against measured latency of held-out heads and tails, per model."""
    figure, axes = _grid(len(evaluations))
    for ax, evaluation in zip(axes, evaluations, strict=False):
        measured = np.array([p.measured_s for p in evaluation.pairs]) * 1e3
        for name in predictors:
            predicted = np.array([p.predicted_s[name] for p in evaluation.pairs]) * 1e3
            ax.plot(
                measured,
                predicted,
                ".",
                alpha=0.6,
                label=f"{name} ({evaluation.rmse_ms(name):.2f} ms)",
            )
        top = max(measured.max(), 1e-3)
        ax.plot([0, top], [0, top], "k--", lw=0.8)
        ax.set_title(evaluation.model)
        ax.set_xlabel("measured (ms)")
        ax.set_ylabel("predicted (ms)")
        ax.legend(fontsize=7, title="RMSE")
        ax.grid(alpha=0.3)
    return save_figure(figure, "Held-out heads and tails: predicted against measured", path)


def plot_summaries(summaries: Sequence[Summary], folder: str | Path, title: str = "") -> list[Path]:
    """One bar chart per metric (mean per policy, whiskers the 95 % interval), as PNG files,
    titled with ``title`` (scenario and episodes); a metric that is zero for every policy gets
    no chart."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in summaries[0].mean:
        if all(s.mean[metric] == 0 and s.half_width[metric] == 0 for s in summaries):
            continue
        shown = display(metric)
        figure, axes = plt.subplots(figsize=(1.8 + 0.9 * len(summaries), 3.6))
        names = [s.policy for s in summaries]
        axes.bar(
            names,
            [s.mean[metric] * shown.factor for s in summaries],
            yerr=[s.half_width[metric] * shown.factor for s in summaries],
            capsize=4,
            color="#4C72B0",
        )
        axes.set_ylabel(shown.header())
        axes.set_xlabel("policy")
        axes.tick_params(axis="x", rotation=30)
        heading = f"{title}\nbars: mean; whiskers: 95 % CI" if title else shown.header()
        written.append(save_figure(figure, heading, folder / f"{metric}.png", fontsize=9))
    return written
