"""The shipped cost tables equal a fresh build from the graph and profile layers."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.costs import TableSpec, build_table, load_table

from ..scripts_support import preset_table_specs


@pytest.mark.parametrize("spec", preset_table_specs(), ids=lambda s: f"{s.model}-{s.device}")
def test_shipped_tables_are_fresh(spec):
    shipped, fresh = load_table(spec), build_table(spec)
    for field in ("transfer_bits", "device_macs", "head_s", "tail_s", "crossing_count"):
        np.testing.assert_allclose(getattr(shipped, field), getattr(fresh, field), rtol=1e-9)
    assert shipped.input_bits == fresh.input_bits and shipped.result_bits == fresh.result_bits
    assert shipped.row_option == fresh.row_option
    assert (shipped.row_cut is None) == (fresh.row_cut is None)
    if fresh.row_cut is not None:  # learned options among the rows
        np.testing.assert_array_equal(shipped.row_cut, fresh.row_cut)


def test_table_structure():
    spec = TableSpec(
        "resnet34", "jetson-orin-nano", None, "i7-12700kf-workstation", "block", "nodes", 224
    )
    table = load_table(spec)
    assert table.n_cuts == 23 and table.max_threads == 16
    assert table.transfer_bits[0] == table.input_bits == 3 * 224 * 224 * 32
    assert table.head_s[0] == 0 and table.transfer_bits[-1] == 0
    assert table.crossing_count[0] == 1 and table.crossing_count[-1] == 0
    assert np.isinf(table.tail_s[:-1, 0]).all() and (table.tail_s[-1] == 0).all()
    assert (np.diff(table.tail_s[0, 1:]) < 0).sum() >= 10  # more threads, mostly faster
