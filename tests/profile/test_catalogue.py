"""The hardware catalogue: every entry resolves, derived numbers follow their stated rules."""

from __future__ import annotations

import pytest

from edgesplit.errors import InvalidParameterError, ProfileError
from edgesplit.graph.zoo import build_model, example_input
from edgesplit.profile.catalogue import catalogue, hardware_profile, latency_model, resolve_latency

REFERENCE_MODELS = ("vgg16_bn", "resnet34", "mobilenet_v2", "resnet50", "googlenet", "densenet201")


def _whole(profile, device: str) -> float:
    return (profile.cuda if device == "cuda" else profile.cpu[max(profile.cpu)]).whole.median_s


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_every_entry_resolves_for_the_reference_models(name):
    entry = catalogue()[name]
    models = ("resnet50",) if entry.name == "epyc2" else REFERENCE_MODELS
    for model in models:
        profile, device = hardware_profile(name, model)
        assert profile.model == model
        assert _whole(profile, device) > 0
        assert profile.source in (("measured", "reference") if entry.measured else ("derived",))


def test_zhang2026_entries_reproduce_the_papers_numbers():
    """zhang2026 Table IV: local-only ResNet-50 takes 2150.75 ms for 50 tasks (43.015 ms each),
    with L_local = 5 L0; its energy, 0.0409 J per task, is zeta = 1e-5 per million MACs."""
    server, device = hardware_profile("zhang2026-server", "resnet50")
    assert _whole(server, device) == pytest.approx(2150.75 / 50 / 5 / 1e3)
    local, device = hardware_profile("zhang2026-device", "resnet50")
    assert _whole(local, device) == pytest.approx(2150.75 / 50 / 1e3)
    from edgesplit.graph import ModelGraph

    macs = ModelGraph.from_module(build_model("resnet50"), example_input("resnet50")).total_macs
    energy = catalogue()["zhang2026-device"].powers["energy_per_mac_j"] * macs
    assert energy == pytest.approx(0.0409, abs=5e-5)


def test_shi2025_devices_follow_the_five_times_rule():
    server, _ = hardware_profile("xeon16", "vgg16_bn")
    device, _ = hardware_profile("jetson-orin-nx", "vgg16_bn")
    assert list(device.cpu) == [16]
    assert device.cpu[16].whole.median_s == pytest.approx(5 * server.cpu[16].whole.median_s)
    assert catalogue()["jetson-orin-nx"].powers["compute_power_w"] == 8.6


def test_unknown_entries_and_bad_threads():
    with pytest.raises(InvalidParameterError, match="did you mean jetson-orin-nx"):
        hardware_profile("jetson-orin-nz", "resnet50")
    with pytest.raises(InvalidParameterError, match="an integer from 1 to 16"):
        latency_model("xeon16", "resnet50", threads=20)
    with pytest.raises(
        InvalidParameterError, match="threads=4 is invalid: 16: jetson-orin-nx runs at 16"
    ):
        latency_model("jetson-orin-nx", "resnet50", threads=4)
    with pytest.raises(ProfileError, match="no resnet18 profile in xeon16-h100"):
        latency_model("xeon16", "resnet18")
    with pytest.raises(InvalidParameterError, match="one or the other"):
        resolve_latency("resnet50", "xeon16", 1e9, None, "nodes", "device")
    with pytest.raises(InvalidParameterError, match="predictor='magic'"):
        latency_model("xeon16", "resnet50", predictor="magic")


def test_derived_entries_say_so_wherever_they_are_shown():
    from edgesplit.profile.catalogue import catalogue

    entries = catalogue()
    assert entries["jetson-orin-nx"].label == "jetson-orin-nx (derived from xeon16)"
    assert entries["xeon16"].label == "xeon16"  # measured: the name alone
    assert all(("derived" in e.label) != e.measured for e in entries.values())
