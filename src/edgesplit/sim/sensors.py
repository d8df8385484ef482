"""A round-based wireless sensor network whose sensors must have one DNN inference done per round
(mozib Sec. 10, Figs. 7-9: alive sensors and sensors at the highest energy level over rounds,
against an iLEACH-style clustering protocol, with and without energy replenishment).

mozib gives no formulas; what it names is built as the literature it cites defines it:

- **Radio energy**: the first-order radio model of LEACH (Heinzelman et al., IEEE TWC 2002):
  sending k bits over d metres costs k (E_elec + eps_fs d^2) below the crossover distance
  d0 = sqrt(eps_fs / eps_mp) and k (E_elec + eps_mp d^4) beyond; receiving costs k E_elec;
  fusing costs E_DA per bit. E_elec 50 nJ/bit, eps_fs 10 pJ/bit/m^2, eps_mp 0.0013 pJ/bit/m^4,
  E_DA 5 nJ/bit, as there.
- **The round's work**: every alive sensor senses one input and must get one DNN inference
  done: it runs the head of its cut (energy per MAC x the head's MACs, the simulator's
  zhang2026 Eq. 3) and sends what crosses the cut to the base station, which hosts the edge
  server (the result after local inference).
- **Deciders**: ``local`` (whole DNN on the sensor, result sent), ``edge`` (the input sent),
  ``edgesplit`` (each sensor's cut of least energy this round, exact over every cut: with
  direct links a sensor's energy is its own, so the least energy per round is also its longest
  life), and ``ileach``: LEACH's rounds with iLEACH's residual-energy-weighted election.
  Each round a sensor that has not been cluster head in the last 1/p rounds becomes one with
  probability T = p / (1 - p (r mod 1/p)) x E_residual / E_capacity (p = 5 %); if none is
  elected, the alive sensor with the most energy is. Members infer locally and send their
  result to the nearest cluster head (or to the base station if it is nearer); a cluster
  head receives its members' results, fuses them with its own (E_DA per bit) into one result
  (LEACH's perfect aggregation) and sends it to the base station. Raw inputs cannot be fused,
  so clustering carries results, not inputs.
- **Energy**: initial energies uniform in [E_capacity / 2, E_capacity] (mozib: "uniformly
  distributed"). mozib counts as alive the sensors whose energy is above a threshold; here the
  threshold is the energy of one local inference (a sensor below it could not run its DNN by
  itself), and a sensor below it sleeps: it does no work until replenishment lifts it back.
  A working sensor that cannot pay its round's work empties its battery and its task is lost.
  Replenishment adds a constant amount per round (mozib: "a constant energy replenishment
  rate"), capped at the capacity, to every sensor. "Highest energy level": at least 90 % of the
  capacity (the top of ten equal levels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgesplit.errors import InvalidParameterError
from edgesplit.sim.scenario import Scenario

SENSOR_DECIDERS = ("local", "edge", "edgesplit", "edgesplit-clusters", "ileach")


@dataclass(frozen=True)
class RadioEnergy:
    """LEACH's first-order radio model (Heinzelman et al. 2002), joules per bit."""

    electronics_j_per_bit: float = 50e-9
    free_space_j_per_bit_m2: float = 10e-12
    multipath_j_per_bit_m4: float = 0.0013e-12
    fusion_j_per_bit: float = 5e-9

    @property
    def crossover_m(self) -> float:
        return float(np.sqrt(self.free_space_j_per_bit_m2 / self.multipath_j_per_bit_m4))

    def transmit_j(self, bits: np.ndarray | float, distance_m: np.ndarray | float) -> np.ndarray:
        d = np.asarray(distance_m, dtype=float)
        amplifier = np.where(
            d < self.crossover_m,
            self.free_space_j_per_bit_m2 * d**2,
            self.multipath_j_per_bit_m4 * d**4,
        )
        return np.asarray(bits, dtype=float) * (self.electronics_j_per_bit + amplifier)

    def receive_j(self, bits: np.ndarray | float) -> np.ndarray:
        return np.asarray(bits, dtype=float) * self.electronics_j_per_bit


@dataclass(frozen=True)
class SensorField:
    """Sensors on a square field with the base station (and its edge server) outside it, and the
    per-cut costs of the DNN every sensor runs: ``head_energy_j[c]`` to run the head of cut c,
    ``sent_bits[c]`` to send what crosses it (cut 0 sends the input; the last, all-local cut
    sends the result)."""

    head_energy_j: np.ndarray
    sent_bits: np.ndarray
    sensors: int = 100
    side_m: float = 100.0
    base_station_m: tuple[float, float] = (50.0, 175.0)  # LEACH's layout
    capacity_j: float = 0.5  # LEACH's initial energy per node
    replenish_j_per_round: float = 0.0
    cluster_head_share: float = 0.05
    top_level_share: float = 0.9
    radio: RadioEnergy = field(default_factory=RadioEnergy)

    def __post_init__(self) -> None:
        if len(self.head_energy_j) != len(self.sent_bits) or len(self.sent_bits) < 2:
            raise InvalidParameterError(
                "head_energy_j", len(self.head_energy_j), "one per cut, as sent_bits, at least 2"
            )
        for name in ("sensors", "side_m", "capacity_j"):
            if getattr(self, name) <= 0:
                raise InvalidParameterError(name, getattr(self, name), "> 0")
        if self.replenish_j_per_round < 0:
            raise InvalidParameterError("replenish_j_per_round", self.replenish_j_per_round, ">= 0")
        if not 0 < self.cluster_head_share <= 1:
            raise InvalidParameterError("cluster_head_share", self.cluster_head_share, "in (0, 1]")


@dataclass(frozen=True)
class SensorRounds:
    """Per round (after its work and replenishment): alive sensors, sensors at the highest energy
    level, completed inferences, energy spent; and each sensor's energy [rounds, sensors]."""

    alive: np.ndarray
    top_level: np.ndarray
    completed: np.ndarray
    spent_j: np.ndarray
    energy_j: np.ndarray


def simulate_sensors(net: SensorField, decider: str, rounds: int, seed: int) -> SensorRounds:
    """``rounds`` rounds of ``net`` under ``decider``; positions, initial energies and iLEACH's
    elections are drawn from ``seed``."""
    if decider not in SENSOR_DECIDERS:
        raise InvalidParameterError("decider", decider, f"one of {', '.join(SENSOR_DECIDERS)}")
    if rounds < 1:
        raise InvalidParameterError("rounds", rounds, ">= 1")
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0.0, net.side_m, (net.sensors, 2))
    energy = rng.uniform(net.capacity_j / 2, net.capacity_j, net.sensors)
    distance = np.linalg.norm(positions - np.asarray(net.base_station_m), axis=1)
    last_head = np.full(net.sensors, -(10**9))  # the round each sensor last led a cluster
    # [sensors, cuts]: running the head of each cut and sending what crosses it to the station
    direct = net.head_energy_j[None, :] + net.radio.transmit_j(
        net.sent_bits[None, :], distance[:, None]
    )
    threshold = max(float(net.head_energy_j[-1]), np.finfo(float).tiny)  # one local inference
    log: dict[str, list] = {k: [] for k in ("alive", "top", "completed", "spent", "energy")}
    for round_ in range(rounds):
        alive = energy >= threshold
        if decider in ("ileach", "edgesplit-clusters"):
            cost = _clustered_costs(net, positions, distance, direct, alive, energy, last_head,
                                    rng, round_, choose=decider != "ileach")  # fmt: skip
        else:
            cost = {"local": direct[:, -1], "edge": direct[:, 0],
                    "edgesplit": direct.min(axis=1)}[decider]  # fmt: skip
        cost = np.where(alive, cost, 0.0)
        paid = alive & (cost <= energy)
        log["completed"].append(int(paid.sum()))
        log["spent"].append(float(np.minimum(cost, energy).sum()))
        energy = np.maximum(energy - cost, 0.0)
        energy = np.minimum(energy + net.replenish_j_per_round, net.capacity_j)
        log["alive"].append(int((energy >= threshold).sum()))
        log["top"].append(int((energy >= net.top_level_share * net.capacity_j).sum()))
        log["energy"].append(energy.copy())
    return SensorRounds(
        np.array(log["alive"]), np.array(log["top"]), np.array(log["completed"]),
        np.array(log["spent"]), np.array(log["energy"]),
    )  # fmt: skip


def _clustered_costs(
    net: SensorField, positions: np.ndarray, distance: np.ndarray, direct: np.ndarray,
    alive: np.ndarray, energy: np.ndarray, last_head: np.ndarray, rng: np.random.Generator,
    round_: int, choose: bool,
) -> np.ndarray:  # fmt: skip
    """Each sensor's energy in one clustered round: iLEACH's election (``last_head`` updated
    with this round's heads), then for ``choose=False`` iLEACH (every sensor infers locally and
    relays its result through its head) and for ``choose=True`` edgesplit's choice per sensor
    between its best direct cut and relaying its local result, counting what the relay adds at
    the head (reception and fusion)."""
    p, radio, result_bits = net.cluster_head_share, net.radio, float(net.sent_bits[-1])
    period = max(round(1 / p), 1)
    eligible = alive & (round_ - last_head >= period)
    threshold = p / (1 - p * (round_ % period)) * energy / net.capacity_j
    heads = eligible & (rng.random(net.sensors) < threshold)
    if not heads.any() and alive.any():
        heads[np.argmax(np.where(alive, energy, -np.inf))] = True
    last_head[heads] = round_
    local = float(net.head_energy_j[-1])
    own = direct.min(axis=1) if choose else direct[:, -1]  # a sensor's work on its own
    if not heads.any():
        return own
    head_index = np.flatnonzero(heads)
    to_heads = np.linalg.norm(positions[:, None, :] - positions[head_index][None], axis=2)
    hop = to_heads.min(axis=1)
    relay_cost = local + radio.transmit_j(result_bits, hop)
    added_at_head = radio.receive_j(result_bits) + result_bits * radio.fusion_j_per_bit
    relay = alive & ~heads & (hop < distance)  # iLEACH: a head nearer than the station
    if choose:
        relay &= relay_cost + added_at_head < own
    relays_of = np.bincount(head_index[np.argmin(to_heads, axis=1)][relay], minlength=net.sensors)
    head_cost = np.where(
        relays_of > 0 if choose else heads,
        relays_of * added_at_head + np.minimum(own, local + result_bits * radio.fusion_j_per_bit)
        + radio.transmit_j(result_bits, distance),
        own,
    )  # fmt: skip
    return np.where(heads, head_cost, np.where(relay, relay_cost, own))


def dnn_costs(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(head energy per cut, bits sent per cut) of the first device of a task-window
    ``scenario``: its energy per MAC x the head's MACs, and what crosses each cut, with the
    device's input at cut 0 and the DNN's result at the all-local cut."""
    from edgesplit.sim.window import build_window_system

    system = build_window_system(scenario)
    rows = slice(system.row_offset[0, 0], system.row_offset[0, 0] + system.n_cuts[0])
    sent = system.transfer_bits[rows].astype(float)
    sent[0], sent[-1] = system.input_bits[0], system.tables[0].result_bits
    return system.energy_per_mac_j[0] * system.device_macs[rows], sent
