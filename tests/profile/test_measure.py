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
    whole = measured.whole
    assert whole.n >= 1 and whole.min_s <= whole.median_s <= whole.max_s
    assert whole.iqr_s is not None and 0 <= whole.iqr_s <= whole.max_s - whole.min_s
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
    assert chosen[0] is not None and chosen[0].index == 0 and chosen[-1].index == len(cuts) - 1
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


def test_an_implausible_setting_is_measured_again_then_recorded_noisy(
    resnet18, monkeypatch, tmp_path
):
    """2 threads always 3x slower than 1: measured again RETRIES times, then recorded noisy (and
    planning refuses the profile); 4 threads with an interquartile range of 67 % of the median
    once, then 8 %: measured again once, not noisy."""
    from edgesplit.errors import ProfileError
    from edgesplit.profile import measure
    from edgesplit.profile.catalogue import latency_model
    from edgesplit.profile.data import Measurements, Stats

    model, x, graph = resnet18
    attempts = {1: 0, 2: 0, 4: 0}
    medians = {1: [0.010], 2: [0.030], 4: [0.006]}
    iqrs = {1: [0.001], 2: [0.001], 4: [0.004, 0.0005]}
    nodes = len(graph.fx_node_order)

    def setting(model, graph, inputs, halves, device, warmup, repeats, wall, k, progress):
        i = attempts[k]
        attempts[k] += 1
        median = medians[k][min(i, len(medians[k]) - 1)]
        iqr = iqrs[k][min(i, len(iqrs[k]) - 1)]
        whole = Stats(median, 0.9 * median, 1.1 * median, 5, iqr)
        return Measurements(whole, per_node_s=(median / nodes,) * nodes)

    monkeypatch.setattr(measure, "_measure_setting", setting)
    monkeypatch.setattr(measure, "available_cores", lambda: 4)
    profile, _ = measure.measure_profile(model, graph, x, [1, 2, 4], repeats=2, warmup=0)
    assert attempts == {1: 1, 2: 1 + measure.RETRIES, 4: 2}
    assert profile.cpu[1].noisy is None and profile.cpu[4].noisy is None
    assert "slower than at 1 thread" in profile.cpu[2].noisy
    save_profile(profile, tmp_path / "noisy.json")
    reloaded = load_profile_file(tmp_path / "noisy.json")
    assert reloaded.cpu[2].noisy == profile.cpu[2].noisy
    with pytest.raises(ProfileError, match="2-thread measurement is flagged noisy"):
        latency_model(str(tmp_path / "noisy.json"), graph.model_name).node_latency_s(graph)
