"""Every figure edgesplit writes is titled and labels what it plots: ``save_figure`` refuses a
figure without a title or with an axes that shows data and names nothing (a label shared along
its grid column or row counts)."""

from __future__ import annotations

import pytest

from edgesplit.errors import EdgesplitError
from edgesplit.experiments.plots import plt, save_figure, unlabelled_axes


def _grid():
    figure, axes = plt.subplots(2, 2)
    for ax in axes.flat:
        ax.plot([0, 1], [1, 2])
    for ax in axes[-1]:
        ax.set_xlabel("round")  # shared by the column above
    for ax in axes[:, 0]:
        ax.set_ylabel("alive sensors")  # shared by the row
    return figure, axes


def test_a_labelled_grid_is_written_with_its_title(tmp_path):
    figure, _ = _grid()
    assert unlabelled_axes(figure) == []
    path = save_figure(figure, "mozib Fig. 7", tmp_path / "ok.png")
    assert path.is_file() and path.stat().st_size > 0


def test_an_unlabelled_axis_or_a_missing_title_is_refused(tmp_path):
    figure, axes = _grid()
    axes[1, 0].set_xlabel("")  # column 0 now names no x: both of its axes are refused
    axes[0, 0].set_title("alive")
    axes[1, 0].set_title("energy")
    assert unlabelled_axes(figure) == ["alive has no x label", "energy has no x label"]
    with pytest.raises(EdgesplitError, match=r"bad\.png: alive has no x label; energy has no"):
        save_figure(figure, "a title", tmp_path / "bad.png")
    figure, _ = _grid()
    with pytest.raises(EdgesplitError, match="has no title"):
        save_figure(figure, "", tmp_path / "untitled.png")
    assert not list(tmp_path.iterdir())


def test_an_axes_without_data_needs_no_label():
    figure, axes = plt.subplots(1, 2)
    axes[0].plot([0, 1], [0, 1])
    axes[0].set_xlabel("x (s)")
    axes[0].set_ylabel("y (J)")
    axes[1].set_visible(False)
    assert unlabelled_axes(figure) == []
    plt.close(figure)
