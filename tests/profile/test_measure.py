"""The profiler: what it records, and the inputs it refuses."""

from __future__ import annotations

import pytest
import torch

from edgesplit.errors import DeviceUnavailableError, InvalidParameterError
from edgesplit.profile.data import load_profile_file, save_profile, shipped_models
from edgesplit.profile.measure import (
    available_cores,
    measure_profile,
    select_cuts,
)


@pytest.fixture(scope="module")
def resnet18(zoo):
    return zoo("resnet18")


def test_a_profile_records_every_node_and_the_chosen_cuts(resnet18, tmp_path):
    model, x, graph = resnet18
    cuts = select_cuts(graph, 3)
    profile, wall = measure_profile(
        model, graph, x, [1], repeats=3, warmup=1, cuts=cuts, command="test"
    )
    (k,) = profile.cpu
    measured = profile.cpu[k]
    assert len(measured.per_node_s) == len(profile.node_order) == len(graph.fx_node_order)
    assert all(t > 0 for t in measured.per_node_s)
    assert (
        measured.whole.n == 3
        and measured.whole.min_s <= measured.whole.median_s <= measured.whole.max_s
    )
    assert set(measured.head) == set(measured.tail) == {graph.fx_key(c) for c in cuts}
    assert profile.cuts == {graph.fx_key(c): c.crossing for c in cuts}
    assert profile.machine["cores"] == available_cores() and profile.machine["gpu"] is None
    assert set(wall) == {"whole", "per_node", "cuts"}
    save_profile(profile, tmp_path / "r.json")
    assert load_profile_file(tmp_path / "r.json") == profile
    assert torch.get_num_threads() == 1  # restored (the test session runs one thread)


def test_cut_selection(resnet18):
    _, _, graph = resnet18
    cuts = graph.cuts()
    chosen = select_cuts(graph, 5)
    assert chosen[0] is not None and chosen[0].index == 1 and chosen[-1].index == len(cuts)
    assert len(chosen) == 5
    assert all(len(c.crossing) == 1 for c in select_cuts(graph, "single"))
    assert len(select_cuts(graph, "all")) == len(cuts)
    with pytest.raises(InvalidParameterError, match="cuts=-2"):
        select_cuts(graph, -2)


def test_refused_settings(resnet18):
    model, x, graph = resnet18
    cores = available_cores()
    with pytest.raises(InvalidParameterError, match=f"an integer from 1 to {cores} "):
        measure_profile(model, graph, x, [cores + 1])
    with pytest.raises(InvalidParameterError, match="repeats=0"):
        measure_profile(model, graph, x, [1], repeats=0)
    if not torch.cuda.is_available():
        with pytest.raises(
            DeviceUnavailableError, match="CUDA was requested but no GPU is visible"
        ):
            measure_profile(model, graph, x, [1], device="cuda")


def test_inconsistent_cuts_are_flagged(resnet18):
    from dataclasses import replace

    from edgesplit.profile.data import Measurements, Profile, Stats
    from edgesplit.profile.measure import inconsistent_cuts

    def s(v):
        return Stats(v, v, v, 1)

    fine = Measurements(s(0.10), head={"0x1": s(0.04)}, tail={"0x1": s(0.07)})
    burst = replace(fine, tail={"0x1": s(0.20)})
    profile = Profile("m", (1,), ("a",), {"cores": 2}, "", "measured", {1: fine, 2: burst}, None)
    assert inconsistent_cuts(profile) == [("2 threads", "0x1", pytest.approx(2.4))]


@pytest.mark.parametrize("name", shipped_models("epyc2"))
def test_shipped_profiles_of_this_machine_are_consistent(name):
    """Guards the package data: no cut's head plus tail took 1.5x the whole model."""
    from edgesplit.profile.data import package_profile
    from edgesplit.profile.measure import inconsistent_cuts

    profile = package_profile("epyc2", name)
    assert sorted(profile.cpu) == [1, 2] and len(profile.cuts) == 16
    assert inconsistent_cuts(profile) == []
