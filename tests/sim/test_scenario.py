"""Scenario files: presets load, bad ones fail naming the field and the allowed range."""

from __future__ import annotations

import re

import pytest
import yaml

from edgesplit.errors import ScenarioError
from edgesplit.sim.scenario import Scenario, load_scenario, presets


def test_presets():
    assert presets() == [
        "chukhno2023",
        "digits-bottlenecks",
        "digits-window",
        "live-demo",
        "shi2025-5g",
        "shi2025-wifi",
        "shi2025-winter",
        "zhang2026",
        "zhang2026-100",
        "zhang2026-1000",
        "zhang2026-small",
    ]
    for name, shape in [("zhang2026", (3, 2, 2)), ("zhang2026-100", (100, 10, 20)),
                        ("zhang2026-1000", (1000, 10, 100))]:  # fmt: skip
        zhang = load_scenario(name)
        assert (zhang.device_count, zhang.server_count, zhang.radio.channels) == shape
    zhang = load_scenario("zhang2026")
    assert zhang.window_reward.window_max == 5 and zhang.radio.noise_w == 1e-9
    wifi, fiveg = load_scenario("shi2025-wifi"), load_scenario("shi2025-5g")
    assert (wifi.uplink.low_bps, wifi.uplink.high_bps) == (10e6, 20e6)
    assert (fiveg.uplink.low_bps, fiveg.uplink.high_bps) == (20e6, 40e6)
    assert [d.model for d in wifi.devices] == ["vgg16_bn", "resnet34", "mobilenet_v2"]


def test_the_noise_grows_with_the_bandwidth():
    """The radio's noise is a density: a scenario that widens the channels and says nothing of
    the noise gets Table III's density over the wider band; a noise power given is read at the
    bandwidth given beside it; both at once are refused."""
    base = load_scenario("zhang2026").model_dump(mode="json")
    wide = {**base, "radio": {**base["radio"], "bandwidth_hz": 1e7}}
    assert Scenario.model_validate(wide).radio.noise_w == pytest.approx(1e-8, rel=1e-12)
    radio = {k: v for k, v in base["radio"].items() if k != "noise_w_per_hz"}
    given = {**base, "radio": {**radio, "bandwidth_hz": 2e6, "noise_w": 3e-9}}
    assert Scenario.model_validate(given).radio.noise_w_per_hz == pytest.approx(1.5e-15)
    both = {**base, "radio": {**base["radio"], "noise_w": 1e-9}}
    with pytest.raises(ValueError, match="noise_w and noise_w_per_hz: give one"):
        Scenario.model_validate(both)


def _write(tmp_path, data) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _base() -> dict:
    return yaml.safe_load(
        """
name: test
style: slot
devices: [{model: resnet34, hardware: jetson-orin-nx, battery_capacity_j: 100}]
servers: [{hardware: xeon16, threads: [4, 8], min_threads_per_task: 1}]
"""
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (
            lambda d: d["devices"][0].update(arrivals_per_slot=[-1, 2]),
            "arrivals_per_slot.0: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d.update(radio={"bandwidth_hz": 0}),
            "radio.bandwidth_hz: Input should be greater than 0",
        ),
        (
            lambda d: d["servers"][0].update(min_threads_per_task=5),
            "k_min 5 x 1 devices needs 5 threads, but K(t) can be as low as 4",
        ),
        (
            lambda d: d["devices"][0].update(model="alexnet"),
            "devices.0.model: no alexnet profile in xeon16-h100",
        ),
        (
            lambda d: d["devices"][0].pop("battery_capacity_j"),
            "devices.0.battery_capacity_j: required by the slot style",
        ),
        (
            lambda d: d.update(style="cloud"),
            "style: Input should be 'slot', 'task_window' or 'time_slot'",
        ),
        (lambda d: d["servers"].append({"hardware": "h100"}), "exactly one edge server"),
        (
            lambda d: d.update(irradiance={"latitude": 91}),
            "irradiance.latitude: Input should be less than or equal to 90",
        ),
    ],
)
def test_invalid_scenarios_name_the_field(tmp_path, change, message):
    data = _base()
    change(data)
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(_write(tmp_path, data))


def test_not_yaml_and_not_found(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="is not valid YAML"):
        load_scenario(str(bad))
    with pytest.raises(ScenarioError, match="not a preset"):
        load_scenario("shi2026")


def test_data_files_resolve_against_the_yaml_folder_and_must_exist(tmp_path):
    """A trace named relative to the YAML file is found from any working directory, and
    `scenario` refuses a file whose trace does not exist or lacks its column."""
    from edgesplit.sim.slot_env import SlotMECEnv

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "rates.csv").write_text("rate_bps\n2e6\n3e6\n")
    text = (
        "name: t\nstyle: slot\n"
        "devices: [{model: resnet34, hardware: jetson-orin-nano, battery_capacity_j: 9}]\n"
        "servers: [{hardware: i7-12700kf-workstation, threads: [4, 8]}]\n"
        "uplink: {kind: trace, trace_file: rates.csv}\n"
    )
    (folder / "s.yaml").write_text(text)
    scenario = load_scenario(folder / "s.yaml")
    assert scenario.uplink.trace_file == str(folder / "rates.csv")
    env = SlotMECEnv(scenario)
    env.reset(seed=0)
    assert env.uplink_bps[0] == 2e6
    (folder / "missing.yaml").write_text(text.replace("rates.csv", "none.csv"))
    with pytest.raises(ScenarioError, match=r"uplink.trace_file: no file 'none.csv' \(relative to"):
        load_scenario(folder / "missing.yaml")
    (folder / "column.yaml").write_text(text.replace("}\n", ", trace_column: bps}\n"))
    with pytest.raises(ScenarioError, match="trace column"):
        load_scenario(folder / "column.yaml")


def test_a_device_type_may_have_its_own_link(tmp_path):
    import numpy as np

    from edgesplit.sim.slot_env import scenario_rates

    rates = scenario_rates(load_scenario("live-demo"))  # Wi-Fi, then 5G UMi
    rng = np.random.default_rng(1)
    drawn = np.array([rates.draw(rng, slot, 2)[0] for slot in range(40)])
    wifi, fiveg = drawn[:, 0], drawn[:, 1]
    assert min(wifi) >= 10e6 and max(wifi) <= 20e6
    assert np.ptp(fiveg) > 100e6  # UMi's spread, nothing like the Wi-Fi range
    data = load_scenario("live-demo").model_dump(mode="json")
    data["devices"][0]["uplink"] = {"kind": "trace", "trace_file": "missing.csv"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError, match=r"devices\.0\.uplink\.trace_file"):
        load_scenario(path)
