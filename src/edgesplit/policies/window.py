"""Deciders for zhang2026's task-window style: local only, random, AgileNN-style, edge offloading
with a server balancer (random, round-robin, least expected completion), and the exhaustive
optimum over repeated per-task decisions (``repeated-optimum``). (The window planner is in
``edgesplit.policies.planner``; the learners, EMH-PPO, H-PPO and MAHPPO, in
``edgesplit.policies.ppo``.)

A decision gives every device a window size and, per task position, a cut, a channel, a server
and a transmit power (``contract.Decision`` with [devices, W_max] arrays). The observation is
zhang2026 Eq. 7: remaining tasks and distances; the channel's shadowing, which no decider
observes, is taken as its median (0 dB) by the optimum.
"""

from __future__ import annotations

import math

import numpy as np

from edgesplit.contract import Decision, WindowState
from edgesplit.costs.terms import server_work_s
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.base import Policy
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.window import (
    WindowSystem,
    build_window_system,
    efficient_cuts,
    median_gains,
    task_costs,
    window_rewards,
)

POWER_LEVELS = (0.01, 0.03, 0.1, 0.3, 1.0)  # shares of P_limit the searches try


def level_powers_w(
    system: WindowSystem, power_levels: tuple[float, ...] = POWER_LEVELS
) -> np.ndarray:
    """The transmit powers of ``power_levels`` (shares of P_limit) as the env's float32 action
    space holds them: a search scores what the env runs."""
    share = np.asarray(power_levels) * system.scenario.radio.max_transmit_power_w
    return share.astype(np.float32).astype(np.float64)


def task_options(
    system: WindowSystem,
    offloading: list[np.ndarray],
    power_levels: tuple[float, ...] = POWER_LEVELS,
) -> list[np.ndarray]:
    """Per device, the per-task choices a search covers: [k, 4] rows of (cut, channel, server,
    power_w), row 0 local only, then every ``offloading`` cut x channel x server x power level
    (float32 values, as the env's action space holds powers)."""
    radio = system.scenario.radio
    axes = (np.arange(radio.channels), np.arange(system.n_servers),
            level_powers_w(system, power_levels))  # fmt: skip
    out = []
    for n, cuts in enumerate(offloading):
        grid = np.meshgrid(cuts, *axes, indexing="ij")  # cut-major, as itertools.product
        offloaded = np.stack([g.ravel().astype(np.float64) for g in grid], axis=1)
        out.append(np.vstack([[system.n_cuts[n] - 1, 0, 0, 0.0], offloaded]))
    return out


def option_costs(system: WindowSystem, rows: np.ndarray, gain: np.ndarray):
    """``task_costs`` of ``task_options`` rows laid out as [devices, candidates, 4] (each
    candidate a column: one task per device)."""
    return task_costs(
        system, np.ones(rows.shape[:2], bool), rows[..., 0].astype(np.int64),
        rows[..., 1].astype(np.int64), rows[..., 2].astype(np.int64), rows[..., 3], gain,
    )  # fmt: skip


def options_per_cut(system: WindowSystem, power_levels: tuple[float, ...] = POWER_LEVELS) -> int:
    """Rows of ``task_options`` per offloading cut: channels x servers x power levels."""
    return system.scenario.radio.channels * system.n_servers * len(power_levels)


def option_index(
    system: WindowSystem,
    cut_rank: np.ndarray | int,
    channel: np.ndarray | int,
    server: np.ndarray | int,
    power_rank: np.ndarray | int,
    power_levels: tuple[float, ...] = POWER_LEVELS,
) -> np.ndarray | int:
    """The row of ``task_options`` that offloads at a device's ``cut_rank``-th offloading cut on
    ``channel`` and ``server`` at its ``power_rank``-th power level (row 0 is local only)."""
    per_server = len(power_levels)
    return 1 + ((cut_rank * system.scenario.radio.channels + channel) * system.n_servers
                + server) * per_server + power_rank  # fmt: skip


class WindowPolicy(Policy):
    """A task-window decider: per device, a window size and one choice per task position."""

    styles = ("task_window",)

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        self.system = build_window_system(self.scenario)
        self.width = self.scenario.window_reward.window_max
        self.max_power_w = self.scenario.radio.max_transmit_power_w

    def repeated(self, window, cut, channel, server, power_w) -> Decision:
        """A Decision that repeats one per-device choice at every task position."""
        shape = (self.system.n_devices, self.width)

        def grid(values, dtype):
            return np.broadcast_to(np.asarray(values, dtype=dtype)[:, None], shape).copy()

        return Decision(
            cut=grid(cut, np.int64),
            window=np.broadcast_to(np.asarray(window, dtype=np.int64), shape[:1]).copy(),
            channel=grid(channel, np.int64),
            server=grid(server, np.int64),
            power_w=grid(power_w, np.float64),
        )


def _count(number: int) -> str:
    """A count as text: with thousands separators, or its power of ten when huge."""
    # log10, not the digits: Python refuses to write an int of more than 4,300 digits
    return f"{number:,}" if number < 10**15 else f"about 10^{math.floor(math.log10(number))}"


class LocalWindow(WindowPolicy):
    """Every task runs wholly on its device (zhang2026's "Local Inference Only")."""

    name = "local"

    def decide(self, observation: np.ndarray) -> Decision:
        n = self.system.n_devices
        zeros = np.zeros(n, dtype=np.int64)
        return self.repeated(self.width, self.system.n_cuts - 1, zeros, zeros, np.zeros(n))


class RandomWindow(WindowPolicy):
    """Uniformly random windows, cuts, channels, servers and powers."""

    name = "random"

    def decide(self, observation: np.ndarray) -> Decision:
        n, width, rng = self.system.n_devices, self.width, self.rng
        return Decision(
            cut=rng.integers(0, self.system.n_cuts[:, None], (n, width)),
            window=rng.integers(1, width + 1, n),
            channel=rng.integers(0, self.scenario.radio.channels, (n, width)),
            server=rng.integers(0, self.system.n_servers, (n, width)),
            power_w=rng.uniform(0.0, self.max_power_w, (n, width)),
        )


class AgileNNStyle(WindowPolicy):
    """zhang2026's AgileNN baseline (AgileNN, MobiCom 2022) as our cost tables allow.

    AgileNN puts only a light feature extractor on the weak device and offloads the
    (compressed) features: here each device's offloading cut is its efficient cut with the
    fewest device MACs (``sim.window.efficient_cuts``), the input itself for ResNet-50 and
    MobileNet-V2, since without AgileNN's learned compression no light head sends fewer bits
    for less work (a zero-MAC cut that sent fewer bits would be taken instead).

    Its channel plan cannot collide: at task position k, device n offloads on channel
    (n + k) mod N when that is below C and runs the task wholly on the device otherwise, so
    each channel carries at most one upload per position and every device offloads C/N of its
    tasks (all of them when N <= C); channel c's uploads go to server c mod M, at full power,
    full windows. What differs from AgileNN: its local network on the top-k features and its
    learned quantizer are not priced (the device sends the cut's fp32 tensor through the
    scenario's codecs; docs/policies.md)."""

    name = "agilenn"

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        system = self.system  # efficient cuts ascend, and a deeper head runs no fewer MACs
        self.cuts = np.array([cuts[0] for cuts in efficient_cuts(system)], dtype=np.int64)
        n, channels = system.n_devices, self.scenario.radio.channels
        slot = (np.arange(n)[:, None] + np.arange(self.width)[None, :]) % n  # [devices, positions]
        self.offloads = slot < channels
        self.channel = np.where(self.offloads, slot, 0)
        self.server = self.channel % system.n_servers

    def decide(self, observation: np.ndarray) -> Decision:
        local = (self.system.n_cuts - 1)[:, None]
        return Decision(
            cut=np.where(self.offloads, self.cuts[:, None], local),
            window=np.full(self.system.n_devices, self.width, dtype=np.int64),
            channel=self.channel.copy(),
            server=self.server.copy(),
            power_w=np.where(self.offloads, self.max_power_w, 0.0),
        )


def least_expected_completion(work_s: np.ndarray, load_s: np.ndarray) -> np.ndarray:
    """Each device's server: devices with the most work first (``work_s`` [devices, servers]:
    seconds of server work each would add there), each to the server whose load (``load_s``,
    seconds already queued, then what it has been given) plus its own work is least; Graham's
    longest-processing-time rule on identical servers. Returns the server per device."""
    load = np.asarray(load_s, dtype=np.float64).copy()
    chosen = np.zeros(len(work_s), dtype=np.int64)
    for device in sorted(range(len(work_s)), key=lambda d: -work_s[d].min()):
        chosen[device] = int(np.argmin(load + work_s[device]))
        load[chosen[device]] += work_s[device, chosen[device]]
    return chosen


class BalancedEdge(WindowPolicy):
    """Load balancing across edge servers (mozib's "dynamic load balancing"): every device sends
    its whole window's inputs (cut 0) at full power on channel n mod C, and ``balancer`` picks
    each device's server: ``random`` (seeded), ``round-robin`` (device n in window k on server
    (n + k) mod M) or ``lect``, least expected completion: devices with the most work first
    (window x the input's tail time on the server type), each to the server whose assigned work
    plus its own is least (zhang2026 Eq. 2: co-located devices share a server)."""

    balancer = "lect"

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        self.windows = 0

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.windows = 0

    def decide(self, observation: np.ndarray) -> Decision:
        system, n = self.system, self.system.n_devices
        devices, servers = np.arange(n), system.n_servers
        if self.balancer == "random":
            server = self.rng.integers(0, servers, n)
        elif self.balancer == "round-robin":
            server = (devices + self.windows) % servers
        else:
            window = np.minimum(WindowState.decode(observation, n).remaining, self.width)
            work = server_work_s(window[:, None], system.server_s[system.row_offset])
            server = least_expected_completion(work, np.zeros(servers))
        self.windows += 1
        zeros = np.zeros(n, dtype=np.int64)
        return self.repeated(self.width, zeros, devices % self.scenario.radio.channels, server,
                             np.full(n, self.max_power_w))  # fmt: skip


class EdgeRandom(BalancedEdge):
    name, balancer = "edge+random", "random"


class EdgeRoundRobin(BalancedEdge):
    name, balancer = "edge+round-robin", "round-robin"


class EdgeLect(BalancedEdge):
    name, balancer = "edge+lect", "lect"


class FixedAssignment(WindowPolicy):
    """The rule a practitioner writes first: device n on channel n mod C and server n mod M,
    full windows, each device's deepest offloading cut that no other dominates (the smallest
    tensor to send, as a rule of thumb), and a transmit power growing with the distance: the
    farthest device at full power, one at distance d at (d / d_max)^eta of it, eta the path-loss
    exponent (so every device reaches the server at about the farthest one's received power),
    at least the lowest level the searches try."""

    name = "fixed-assignment"

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        self.cuts = np.array([cuts[-1] for cuts in efficient_cuts(self.system)], dtype=np.int64)

    def offloading(self, observation: np.ndarray) -> tuple[np.ndarray, ...]:
        """(cut, channel, server, power_w) per device when it offloads."""
        distance = WindowState.decode(observation, self.system.n_devices).distance_m
        n, radio = np.arange(self.system.n_devices), self.scenario.radio
        share = (distance / distance.max()) ** radio.path_loss_exponent
        power = radio.max_transmit_power_w * np.clip(share, POWER_LEVELS[0], 1.0)
        return self.cuts, n % radio.channels, n % self.system.n_servers, power

    def decide(self, observation: np.ndarray) -> Decision:
        return self.repeated(self.width, *self.offloading(observation))


class NearOffload(FixedAssignment):
    """Near devices offload, far ones compute: a device at most the median distance away
    offloads as ``fixed-assignment`` does; one farther runs its tasks locally (its uplink is
    slow and costs energy)."""

    name = "near-offload"

    def decide(self, observation: np.ndarray) -> Decision:
        cut, channel, server, power = self.offloading(observation)
        distance = WindowState.decode(observation, self.system.n_devices).distance_m
        far = distance > np.median(distance)
        cut = np.where(far, self.system.n_cuts - 1, cut)
        return self.repeated(self.width, cut, channel, server, np.where(far, 0.0, power))


class GreedyMarginal(WindowPolicy):
    """Greedy by marginal utility: each device's best cut and power level per server as if it
    were alone (at the median shadowing, over its efficient cuts), then, from every device
    local, the devices in order of distance (nearest first) each take the choice among local and
    (channel, server, with that server's cut and power) that most raises Eq. 8's reward of the
    window given the choices already made; two passes. Full windows, one choice per device."""

    name = "greedy"
    passes = 2

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        self.cuts = efficient_cuts(self.system)

    def _alone(self, gain: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
        """Per device [servers, 4]: its best (cut, channel 0, server, power) per server, as if
        it were the only device (Eq. 8 of a window of its own ``sizes`` tasks), every device's
        candidates in one call."""
        system, radio = self.system, self.scenario.radio
        powers = np.asarray(POWER_LEVELS) * radio.max_transmit_power_w
        grids = [
            np.meshgrid(self.cuts[d], np.arange(system.n_servers), powers, indexing="ij")
            for d in range(system.n_devices)
        ]
        device = np.concatenate([np.full(g[0].size, d) for d, g in enumerate(grids)])
        cut, server, power = (np.concatenate([g[i].ravel() for g in grids]) for i in range(3))
        one = lambda a: a[None]  # noqa: E731  # one row: every candidate its own column
        costs = task_costs(
            system, np.ones((1, len(cut)), bool), one(cut), np.zeros((1, len(cut)), np.int64),
            one(server), one(power), one(gain[device]), device=one(device),
        )  # fmt: skip
        size = one(sizes[device])
        reward = window_rewards(
            self.scenario, costs.latency_s * size, size, costs.energy_j[0] * size[0]
        )[0]
        out = []
        for d in range(system.n_devices):
            mine = [(device == d) & (server == m) for m in range(system.n_servers)]
            best = [np.flatnonzero(m)[np.argmax(reward[m])] for m in mine]
            out.append(np.stack([cut[best], np.zeros(len(best)), server[best], power[best]], 1))
        return out

    def decide(self, observation: np.ndarray) -> Decision:
        system, n = self.system, self.system.n_devices
        state = WindowState.decode(observation, n)
        gain = median_gains(system, state.distance_m)
        sizes = np.minimum(self.width, state.remaining)
        local = np.stack([[system.n_cuts[d] - 1, 0, 0, 0.0] for d in range(n)]).astype(float)
        chosen = local.copy()
        channels = np.arange(self.scenario.radio.channels)
        options = []
        for device, alone in enumerate(self._alone(gain, np.maximum(sizes, 1))):
            on = np.repeat(alone[None], len(channels), axis=0)  # [channels, servers, 4]
            on[..., 1] = channels[:, None]
            options.append(np.vstack([local[device], on.reshape(-1, 4)]))
        for _ in range(self.passes):
            for device in np.argsort(state.distance_m, kind="stable"):
                candidates = np.repeat(chosen[:, None, :], len(options[device]), axis=1)
                candidates[device] = options[device]
                costs = option_costs(system, candidates, gain)
                energy = (costs.energy_j * sizes[:, None]).sum(axis=0)
                rewards = window_rewards(self.scenario, costs.latency_s * sizes[:, None], sizes,
                                         energy)[0]  # fmt: skip
                chosen[device] = options[device][int(rewards.argmax())]
        return self.repeated(
            self.width, chosen[:, 0].astype(np.int64), chosen[:, 1].astype(np.int64),
            chosen[:, 2].astype(np.int64), chosen[:, 3],
        )  # fmt: skip


class WindowOptimum(WindowPolicy):
    """The exhaustive optimum of Eq. 8 for one window, over decisions that repeat one per-task
    choice (cut, channel, server, power level) at every position of a full window.

    Every position of a window sees the same channel gains, so repeating the best per-task
    choice is what the search covers; per-position mixes and unequal windows are not searched
    (``planner`` searches them). Powers come from ``power_levels`` (shares of P_limit). The
    search is exact under the median shadowing (0 dB) at the observed distances. Offloading
    cuts are those of ``sim.window.efficient_cuts`` (``prune_cuts``): a dominated cut adds
    latency and energy to its task, which Eq. 8 can repay only through its waiting term
    (alpha times the slack of a device that is not the slowest), far less than the energy it
    costs in zhang2026's weights; the tests compare with the search over every cut. ResNet-50
    keeps 2 of its 238 offloading cuts (the input and the pooled features), so the search
    covers the full ``zhang2026`` preset (41^3 joint decisions). It refuses more than
    ``max_combinations``."""

    name = "repeated-optimum"
    power_levels = POWER_LEVELS
    max_combinations = 2_000_000
    chunk = 200_000
    prune_cuts = True

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        system = self.system
        offloading = (
            efficient_cuts(system) if self.prune_cuts else [np.arange(c - 1) for c in system.n_cuts]
        )
        per_cut = options_per_cut(system, self.power_levels)
        # counted before the options are built: at 1,000 devices they would not fit in memory
        self.combinations = math.prod(len(c) * per_cut + 1 for c in offloading)  # no overflow
        if self.combinations > self.max_combinations:
            raise InvalidParameterError(
                "policy repeated-optimum", f"{_count(self.combinations)} joint decisions",
                f"an instance of at most {self.max_combinations:,} (fewer devices, channels, "
                "servers or cuts)",
            )  # fmt: skip
        self.options = task_options(system, offloading, self.power_levels)

    def decide(self, observation: np.ndarray) -> Decision:
        state = WindowState.decode(observation, self.system.n_devices)
        system = self.system
        gain = median_gains(system, state.distance_m)
        sizes = np.minimum(self.width, state.remaining)
        index = np.indices([len(o) for o in self.options]).reshape(len(self.options), -1)
        best, best_reward = None, -np.inf
        for start in range(0, index.shape[1], self.chunk):
            part = index[:, start : start + self.chunk]  # [devices, combos]
            chosen = np.stack([o[i] for o, i in zip(self.options, part, strict=True)])
            costs = option_costs(system, chosen, gain)
            energy = (costs.energy_j * sizes[:, None]).sum(axis=0)
            rewards = window_rewards(
                self.scenario, costs.latency_s * sizes[:, None], sizes, energy
            )[0]
            top = int(rewards.argmax())
            if rewards[top] > best_reward:
                best_reward, best = rewards[top], chosen[:, top]
        return self.repeated(
            self.width, best[:, 0].astype(np.int64), best[:, 1].astype(np.int64),
            best[:, 2].astype(np.int64), best[:, 3],
        )  # fmt: skip
