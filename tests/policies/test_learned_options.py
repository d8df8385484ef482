"""Learned bottlenecks as rows of a device's cost table, which the deciders choose among with the
cuts: each row against closed forms of its own layers and its shipped sidecar, the slot optimum
against brute force over every joint row and thread choice, and where the choice falls."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml

from edgesplit.compress.bottleneck import SHIPPED_BOTTLENECKS, read_info
from edgesplit.compress.exits import SHIPPED_EXITS, read_exit_info
from edgesplit.compress.shipped import classifier_spec
from edgesplit.contract import SlotState
from edgesplit.costs import TableSpec, build_table
from edgesplit.errors import ScenarioError
from edgesplit.policies.slot import SlotOptimum
from edgesplit.profile.catalogue import placeholder_latency
from edgesplit.sim.scenario import load_scenario, parse_scenario
from edgesplit.sim.slot import slot_step

MODEL = classifier_spec("mobilenet_v2")
FLOOR = 0.92
DEVICE_MACS_PER_S = 2e8


def _spec(min_accuracy: float | None) -> TableSpec:
    """The digits MobileNet-V2 on a 0.2 GMAC/s device and the 2-core EPYC (placeholder rates:
    it has no profile of this model), at blocks."""
    return TableSpec(MODEL, "epyc2", None, "epyc2", "block", "nodes", 32, min_accuracy, True,
                     DEVICE_MACS_PER_S)  # fmt: skip


def _macs(info) -> tuple[float, float]:
    """(encoder, decoder side) MACs of a bottleneck per image, from its shape alone."""
    channels, height, width = info.crossing_shape
    hidden, latent, stride = (info.config.hidden_channels, info.config.latent_channels,
                              info.config.stride)  # fmt: skip
    cells = -(-height // stride) * -(-width // stride)
    encoder = channels * hidden * 9 * cells + hidden * latent * cells
    decoder = latent * hidden * cells + hidden * channels * 9 * height * width
    return encoder, decoder


def _exit_macs(info) -> float:
    """An exit head's MACs per image (3x3 convolution, then the linear layer after pooling)."""
    channels, height, width = info.crossing_shape
    hidden = info.config.hidden_channels
    return channels * hidden * 9 * height * width + hidden * info.classes


def test_each_kept_option_is_its_cuts_row_with_its_own_layers_bits_and_exit_share():
    """Bottlenecks: the cut's row plus their layers' MACs at each side's rate, sending their
    sidecar's coded bits. Exits (a row per threshold): the cut's head plus the exit head, and
    (1 - p) of the cut's bits and tail, p from the sidecar's curve."""
    plain, table = build_table(_spec(None)), build_table(_spec(FLOOR))
    shipped = {
        info.name: info
        for info in (read_info(p)[1] for p in sorted(SHIPPED_BOTTLENECKS.glob("*.json")))
        if info.model == MODEL
    }
    exits = {
        f"{info.name}@{point['threshold']:g}": (info, point)
        for info in (read_exit_info(p)[1] for p in sorted(SHIPPED_EXITS.glob("*.json")))
        if info.model == MODEL
        for point in info.curve
    }
    kept = sorted(
        [n for n, info in shipped.items() if info.metrics["top1"] >= FLOOR]
        + [n for n, (_, point) in exits.items() if point["top1"] >= FLOOR]
    )
    options = [table.option_of(r) for r in range(table.n_cuts)]
    assert sorted(o for o in options if o) == kept
    assert len(kept) < len(shipped) + len(exits) and table.n_cuts == plain.n_cuts + len(kept)
    rates = [placeholder_latency(MODEL, "epyc2", k)[0].macs_per_s for k in (1, 2)]
    for row in range(table.n_cuts):
        cut, name, share = table.cut_of(row), table.option_of(row), table.shares[row]
        if not name:  # a plain cut: its own row, the all-local one last
            assert cut == (row if row < plain.n_cuts - 1 else plain.n_cuts - 1) and share == 1
            assert table.transfer_bits[row] == plain.transfer_bits[cut]
            np.testing.assert_array_equal(table.tail_s[row], plain.tail_s[cut])
            continue
        if name in exits:
            info, point = exits[name]
            assert share == pytest.approx(1 - point["exit_rate"], abs=1e-12)
            assert table.head_s[row] - plain.head_s[cut] == pytest.approx(
                _exit_macs(info) / DEVICE_MACS_PER_S, rel=1e-9
            )
            assert table.transfer_bits[row] == pytest.approx(share * plain.transfer_bits[cut])
            np.testing.assert_allclose(table.tail_s[row, 1:], share * plain.tail_s[cut, 1:])
            continue
        info = shipped[name]
        assert share == 1 and table.transfer_bits[row] == info.metrics["coded_bits"]
        encoder, decoder = _macs(info)
        assert table.head_s[row] - plain.head_s[cut] == pytest.approx(
            encoder / DEVICE_MACS_PER_S, rel=1e-9
        )
        assert np.isinf(table.tail_s[row, 0])
        for k, rate in enumerate(rates, start=1):
            assert table.tail_s[row, k] - plain.tail_s[cut, k] == pytest.approx(
                decoder / rate, rel=1e-9
            )
    assert table.option_of(table.n_cuts - 1) == "" and table.transfer_bits[-1] == 0


def _digits(threads: int) -> object:
    return parse_scenario(yaml.safe_load(_digits_yaml(threads)), "test")


def _digits_yaml(threads: int) -> str:
    return f"""
name: digits-small
style: slot
granularity: block
input_size: 32
devices:
  - {{model: "{MODEL}", hardware: epyc2, macs_per_s: {DEVICE_MACS_PER_S}, count: 2,
      compute_power_w: 2.0, transmit_power_w: 1.0, battery_capacity_j: 40}}
servers: [{{hardware: epyc2, threads: [{threads}, {threads}], min_threads_per_task: 1}}]
options: {{min_accuracy: {FLOOR}, placeholder: true}}
"""


@pytest.mark.parametrize("seed", range(3))
def test_the_slot_optimum_over_cuts_and_bottlenecks_equals_brute_force(seed):
    """Every joint choice of two devices' rows (cuts and bottlenecks) and threads, enumerated;
    at 50-200 kbit/s the optimum takes a bottleneck, at 20-40 Mbit/s a plain cut."""
    policy = SlotOptimum(_digits(threads=2))
    system, rng = policy.system, np.random.default_rng(seed)
    table = system.tables[0]
    for low, high, learned in ((5e4, 2e5, True), (2e7, 4e7, False)):
        state = SlotState(
            arrivals=rng.uniform(5, 40, 2), battery_j=rng.uniform(5, 40, 2),
            uplink_bps=rng.uniform(low, high, 2), threads_total=2,
        )  # fmt: skip
        cuts, threads = policy.solve(state)
        args = (state.arrivals, state.uplink_bps, state.uplink_bps, 0.0)
        best = max(
            slot_step(system, state.battery_j, np.array(rows), np.array([1, 1]), *args).reward
            for rows in itertools.product(range(table.n_cuts), repeat=2)
        )
        got = slot_step(system, state.battery_j, cuts, threads, *args).reward
        assert got == pytest.approx(best, abs=1e-12)
        assert all(bool(table.option_of(int(c))) == learned for c in cuts)


def test_the_preset_evaluates_and_a_lossy_fixed_codec_beside_options_is_refused():
    from edgesplit.policies.evaluate import evaluate
    from edgesplit.policies.registry import make_policy

    scenario = load_scenario("digits-bottlenecks")
    (optimum,) = evaluate({"optimum": lambda: make_policy("optimum", scenario)}, scenario, 1, 0)
    assert 0 < optimum.mean["learned_share"] < 1  # bottlenecks at slow slots only
    data = yaml.safe_load(_preset_path().read_text())
    data["runtime"] = {"link": "epyc2", "codecs": ["fp32", "fp16"]}
    with pytest.raises(ScenarioError, match="options: with learned options"):
        parse_scenario(data, "test")


def _preset_path():
    from importlib import resources

    return resources.files("edgesplit.data").joinpath("scenarios", "digits-bottlenecks.yaml")


def test_an_exit_row_costs_the_expectation_over_the_tasks_that_exit_and_those_that_go_on():
    """One device on an exit's row against the plain cut computed for the (1 - p) of its tasks
    that go on (their own arrival rate, so their own queue) and the p that stop after the exit
    head: latency and energy per task are exactly the mixture, request overhead and download
    included (a runtime link with a fixed request time)."""
    data = yaml.safe_load(_digits_yaml(threads=2))
    data["runtime"] = {"link": "epyc2", "codecs": ["fp32"]}
    data["devices"][0]["count"] = 1
    system = SlotOptimum(parse_scenario(data, "test")).system
    table = system.tables[0]
    assert system.link.request_s > 0
    power_w = float(system.compute_power_w[0])
    arrivals, rate, battery = np.array([30.0]), np.array([3e5]), np.array([1e9])  # none binds

    def step(position: int, tasks: np.ndarray):
        return slot_step(system, battery, np.array([position]), np.array([2]), tasks, rate, rate,
                         0.0)  # fmt: skip

    rows = [r for r in range(table.n_cuts) if "exit" in table.option_of(r)]
    assert len(rows) >= 10
    for row in rows:
        cut, share = table.cut_of(row), float(table.shares[row])
        mixed, going = step(row, arrivals), step(cut, arrivals * share)
        head_s = table.head_s[row]
        assert mixed.latency_s[0] == pytest.approx(
            head_s + share * (going.latency_s[0] - going.local_s[0]), rel=1e-9
        )
        assert mixed.task_energy_j[0] == pytest.approx(
            power_w * head_s + share * (going.task_energy_j[0] - power_w * going.local_s[0]),
            rel=1e-9,
        )


def _window_yaml(window_max: int) -> str:
    return f"""
name: digits-window
style: task_window
granularity: block
input_size: 32
devices:
  - {{model: "{MODEL}", hardware: zhang2026-device, macs_per_s: {DEVICE_MACS_PER_S}, count: 2,
      energy_per_mac_j: 1.0e-11, distance_m: [1, 100], mean_tasks: 20}}
servers: [{{hardware: zhang2026-server, count: 2}}]
radio: {{channels: 2, bandwidth_hz: 1.0e+6, noise_w: 1.0e-9, path_loss_exponent: 3,
         reference_distance_m: 1, shadowing_std_db: 8, max_transmit_power_w: 1}}
window_reward: {{alpha: 0.05, beta: 50, window_max: {window_max}}}
options: {{min_accuracy: {FLOOR}, placeholder: true}}
"""


@pytest.mark.parametrize("trial", range(2))
def test_the_window_planner_over_cuts_and_options_equals_every_decision_enumerated(trial):
    """zhang2026's planner on the digits with option rows among its choices: local, and three
    offloading choices of which two run a learned option; windows up to 3 for two devices. The
    exact search scores the best of every decision enumerated, the anytime search none
    better."""
    from .test_planner import _Quick, check_against_brute_force

    planner = _Quick(parse_scenario(yaml.safe_load(_window_yaml(3)), "test"))
    table = planner.system.tables[0]
    rng = np.random.default_rng(trial)
    problem = planner.problem(rng.uniform(5, 60, 2) ** -3.0, np.array([3, rng.integers(1, 4)]))
    cuts = problem.options[0, : problem.n_options[0], 0].astype(int)
    learned = [j for j, c in enumerate(cuts) if table.option_of(int(c))]
    plain = [j for j, c in enumerate(cuts) if j and not table.option_of(int(c))]
    assert learned and plain  # options are among the planner's efficient choices
    keep = np.array([0, *rng.choice(learned, 2, replace=False), rng.choice(plain)])
    check_against_brute_force(problem, keep, rng)


def test_the_window_planners_objective_on_option_rows_is_the_envs_reward():
    """No shadowing, no look-ahead: a plan of learned options' rows scores exactly the env's Eq. 8
    reward for that decision (the planner's costs of a row are the simulator's)."""
    import copy
    from dataclasses import replace

    from edgesplit.sim import decision_env

    from .test_planner import _Quick

    data = yaml.safe_load(_window_yaml(5))
    data["radio"]["shadowing_std_db"] = 0.0
    scenario = parse_scenario(data, "test")
    planner, env = _Quick(scenario), decision_env(scenario)
    table = planner.system.tables[0]
    rng = np.random.default_rng(2)
    for seed in range(3):
        env.reset(seed=seed)
        sim = env.unwrapped
        problem = replace(
            planner.problem(sim.gain, sim.remaining), task_latency_s=None, task_energy_j=None
        )
        cuts = problem.options[0, : problem.n_options[0], 0].astype(int)
        learned = [j for j, c in enumerate(cuts) if table.option_of(int(c))]
        window = rng.integers(1, 6, 2)
        choice = rng.choice(learned, (2, 5))
        value = problem.evaluate(window[None], choice[None])[0]
        reward = copy.deepcopy(env).step(problem.decision(window, choice))[1]
        assert value == pytest.approx(reward, rel=1e-12)
