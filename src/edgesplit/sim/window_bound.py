"""A certified upper bound on a task-window episode's return (zhang2026's system, Eq. 8).

For one seed the env draws the tasks and every window's distances and shadowing in an order that
does not depend on the actions (``TaskWindowMECEnv.upcoming_gains``). The bound is the optimum
of a relaxation for which every decider's episode is feasible and costs no more, so whatever a
decider observes (the distances only, or even the shadowing), its return is at most the bound.

1. **Windows.** Device n runs between 1 and W_max tasks in every window while it has tasks (the
   env's window size is at least 1 and its tasks cap it). A dynamic programme over the tasks left
   finds the cheapest sequence of window sizes when window t with sizes w costs at least b_t(w)
   (below), over every window an episode can have (at most max_n Q_n: one task per window).
2. **One window.** Its cost (minus Eq. 8's reward) is N (D + alpha L_wait + beta / N E) / sum_n
   w_n. L_wait >= 0 is dropped, and D = max_n L_n >= sum_n theta_n L_n for any weights theta on
   the simplex: then the cost is at most N / sum w times a sum over positions, each position's
   tasks priced theta_n latency + beta / N energy, and the best theta on a grid of the simplex is
   taken (any theta gives a bound: weak duality).
3. **One position.** Its tasks interfere on a channel (Eq. 1) and share a server (Eq. 2); the
   bound tries every assignment of the active devices to local only or to a (channel, server),
   channels taken as interchangeable, with each device's sharing count and interference exact.
   Power is continuous, so it is priced by intervals [P_k, P_k+1] of a geometric grid: a task's
   own power at the interval's top (its rate can be no higher), the others' on its channel at
   their bottoms (no less interference) and its transmit energy at the bottom times that air
   time (no less energy). A device alone on its channel has ``INTERVALS[0]`` intervals, devices
   sharing one have fewer (the joint intervals grow as a power; sharing costs a lot of rate,
   so coarse prices still make it dear). Cuts that another dominates for every sharing count
   (``efficient_cuts``) are left out; local only is kept.

What the bound gives away: the shadowing it sees and no decider does; the waiting time; theta
(the slowest device is not known in advance: the per-window duality gap); the coarser prices of
channel sharing. docs/planning.md gives the gaps. The dynamic programme and the assignments grow
exponentially with the devices: the bound is computed for up to ``MAX_DEVICES``; the energy
argument needs one codec.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from edgesplit.costs import server_share_s, task_latency_s
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.scenario import Scenario, load_scenario, scenario_link
from edgesplit.sim.window import MIN_POWER_SHARE, WindowSystem, efficient_cuts, task_costs
from edgesplit.sim.window_env import TaskWindowMECEnv

MAX_DEVICES = 4
INTERVALS = (32, 4, 3, 2)  # power intervals per task: alone on its channel, in 2, 3, 4 sharing
THETA_STEPS = (1, 1, 50, 20, 12)  # grid of the simplex of weights, by the number of devices


@dataclass(frozen=True)
class EpisodeBound:
    """The bound on one seed's episode and what it came from."""

    reward: float  # no decider's episode return exceeds this
    tasks: np.ndarray  # Q_n, the tasks each device starts with
    least_windows: int  # ceil(max_n Q_n / W_max): no episode has fewer


def episode_bound(scenario: str | Scenario, seed: int) -> EpisodeBound:
    """The upper bound on the return of seed ``seed``'s episode (see the module docstring)."""
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    reason = unbounded(scenario)
    if reason is not None:
        raise InvalidParameterError(*reason)
    env = TaskWindowMECEnv(scenario)
    env.reset(seed=seed)
    system, tasks = env.system, env.remaining.copy()
    width = system.scenario.window_reward.window_max
    costs = [WindowBound(system, gain).costs() for gain in env.upcoming_gains(int(tasks.max()))]
    return EpisodeBound(-cheapest_sizes(costs, tasks), tasks, -(-int(tasks.max()) // width))


def unbounded(scenario: Scenario) -> tuple[str, object, str] | None:
    """Why the bound does not cover ``scenario`` (field, value, what it needs), or None."""
    if scenario.style != "task_window":
        return "scenario.style", scenario.style, "task_window for the bound"
    devices = sum(spec.count for spec in scenario.devices)
    if devices > MAX_DEVICES:
        return (
            "scenario.devices", f"{devices} devices",
            f"at most {MAX_DEVICES} for the bound (it grows exponentially with the devices)",
        )  # fmt: skip
    codecs = scenario_link(scenario).codecs
    if len(codecs) != 1:
        return "scenario.runtime.codecs", list(codecs), "one codec for the bound"
    return None


def cheapest_sizes(costs: list[np.ndarray], tasks: np.ndarray) -> float:
    """The least total cost of window sizes that run ``tasks`` when window t with sizes w
    costs ``costs[t][w]`` ([W_max + 1] per device; a device with tasks runs 1..W_max of them,
    at most what it has left, one without runs none) and ``costs`` covers every window. At
    window t a device has between Q - t W_max and Q - t tasks left (or none): only those
    states are computed."""
    tasks = np.asarray(tasks, dtype=np.int64)
    width, n = costs[0].shape[0] - 1, len(tasks)
    shape = tuple(int(q) + 1 for q in tasks)
    sizes = [w for w in itertools.product(range(width + 1), repeat=n) if any(w)]
    later = np.zeros(shape)  # the cost from the next window on, by tasks left
    for t in reversed(range(len(costs))):
        low, high = np.maximum(tasks - t * width, 0), np.maximum(tasks - t, 0)
        now = np.full(shape, np.inf)
        now[(0,) * n] = 0.0
        for w in sizes:
            spans = []  # per device: the states (first, past the last) and its size
            for size, least, most in zip(w, low, high, strict=True):
                first = max(size, int(least), 1) if size else 0
                last = int(most) if size else 0
                if (not size and least > 0) or first > last:
                    break
                spans.append((first, last + 1, size))
            else:
                target = tuple(slice(a, b) for a, b, _ in spans)
                source = tuple(slice(a - size, b - size) for a, b, size in spans)
                np.minimum(now[target], costs[t][w] + later[source], out=now[target])
        later = now
    return float(later[tuple(int(q) for q in tasks)])


class WindowBound:
    """Relaxations 2 and 3 for one window's gains: ``costs()`` gives b(w) for every w."""

    def __init__(self, system: WindowSystem, gain: np.ndarray) -> None:
        self.system, self.gain = system, gain
        n = system.n_devices
        reward = system.scenario.window_reward
        self.width, self.energy_weight = reward.window_max, reward.beta / n
        steps = THETA_STEPS[n]
        self.levels = np.arange(steps + 1) / steps
        # the simplex grid: [points, devices] indices into levels, summing to steps
        grid = [a for a in itertools.product(range(steps + 1), repeat=n) if sum(a) == steps]
        self.points = np.array(grid)
        self.cuts = efficient_cuts(system)
        self.local_cut = system.n_cuts - 1
        self._pieces: dict[tuple, np.ndarray] = {}

    def costs(self) -> np.ndarray:
        """b(w) for every w ([W_max + 1] per device; b(0) = 0): N / sum w times the best weights'
        sum over positions of the least priced assignment of the devices active there."""
        n = self.system.n_devices
        least = {
            active: self.position_price(active)
            for r in range(1, n + 1)
            for active in itertools.combinations(range(n), r)
        }  # [points] per set of active devices
        out = np.zeros((self.width + 1,) * n)
        for w in itertools.product(range(self.width + 1), repeat=n):
            if not any(w):
                continue
            total = sum(least[tuple(i for i in range(n) if w[i] > x)] for x in range(max(w)))
            out[w] = n / sum(w) * float(total.max())
        return out

    def position_price(self, active: tuple[int, ...]) -> np.ndarray:
        """The least price at one position of the ``active`` devices, per point of the weight
        grid: every assignment to local only or (channel, server), channels interchangeable."""
        radio = self.system.scenario.radio
        servers = self.system.n_servers
        choices = [None, *itertools.product(range(radio.channels), range(servers))]
        best = np.full(len(self.points), np.inf)
        for pick in itertools.product(choices, repeat=len(active)):
            if not _canonical([p[0] for p in pick if p is not None]):
                continue
            load = np.bincount([p[1] for p in pick if p is not None], minlength=servers)
            price = np.zeros(len(self.points))
            channels: dict[int, list[tuple[int, int, int]]] = {}
            for device, p in zip(active, pick, strict=True):
                if p is None:
                    price += self.piece((device,), (), ())[self.points[:, device]]
                else:
                    channels.setdefault(p[0], []).append((device, p[1], int(load[p[1]])))
            for members in channels.values():
                devices, on, sharing = (tuple(m[i] for m in members) for i in range(3))
                table = self.piece(devices, on, sharing)
                price += table[tuple(self.points[:, d] for d in devices)]
            np.minimum(best, price, out=best)
        return best

    def piece(self, devices: tuple[int, ...], servers: tuple[int, ...], sharing: tuple[int, ...]):
        """The least price of ``devices`` at one position, per level of each one's weight
        ([levels] ^ len(devices)): local only when ``servers`` is empty, else all on one
        channel, each on its server shared by ``sharing`` tasks."""
        key = (devices, servers, sharing)
        if key not in self._pieces:
            self._pieces[key] = self._piece(devices, servers, sharing)
        return self._pieces[key]

    def _piece(self, devices, servers, sharing) -> np.ndarray:
        levels, weight = self.levels, self.energy_weight
        if not servers:  # local only
            latency, energy = self.local_costs
            return levels * latency[devices[0]] + weight * energy[devices[0]]
        local_s, transmit_s, energy_j, cut = self.group_costs(devices)  # [g, combos, cuts]
        tail = np.stack(
            [
                self.system.server_s[self.system.row_offset[d, m] + cut[i]]
                for i, (d, m) in enumerate(zip(devices, servers, strict=True))
            ]
        )  # [g, cuts]
        share = server_share_s(tail, np.array(sharing)[:, None])[:, None, :]
        latency = task_latency_s(local_s, transmit_s, share)
        # per member, combination and weight level: the best cut
        price = levels[None, None, None, :] * latency[..., None] + weight * energy_j[..., None]
        price = price.min(axis=2)  # [g, combos, levels]
        g = len(devices)
        total = sum(
            price[i].reshape(-1, *([1] * i), len(levels), *([1] * (g - 1 - i))) for i in range(g)
        )  # [combos, levels, ..., levels]
        return total.min(axis=0)

    @cached_property
    def local_costs(self) -> tuple[np.ndarray, np.ndarray]:
        """Latency and energy of a task run wholly on each device."""
        n = self.system.n_devices
        costs = task_costs(
            self.system, np.ones((n, 1), dtype=bool), self.local_cut[:, None],
            np.zeros((n, 1), dtype=np.int64), np.zeros((n, 1), dtype=np.int64),
            np.ones((n, 1)), self.gain,
        )  # fmt: skip
        return costs.latency_s[:, 0], costs.energy_j[:, 0]

    def group_costs(self, devices: tuple[int, ...]):
        """Head time, link time and energy [members, combinations, cuts] of ``devices`` all on
        one channel, each with its own interval of power (every combination of them) and each
        efficient cut, and the cuts [members, cuts] (short lists repeat their last)."""
        radio, g = self.system.scenario.radio, len(devices)
        edges = radio.max_transmit_power_w * np.logspace(
            np.log10(MIN_POWER_SHARE), 0, INTERVALS[g - 1] + 1
        )
        combos = np.array(list(itertools.product(range(INTERVALS[g - 1]), repeat=g)))  # [C, g]
        width = max(len(self.cuts[d]) for d in devices)
        cut = np.stack(
            [np.pad(self.cuts[d], (0, width - len(self.cuts[d])), mode="edge") for d in devices]
        )  # [g, J]
        columns = len(combos) * width
        along = lambda a: np.repeat(a.T, width, axis=1)  # noqa: E731  # [g, C] -> [g, C * J]
        costs = task_costs(
            self.system, np.ones((g, columns), dtype=bool), np.tile(cut, len(combos)),
            np.zeros((g, columns), dtype=np.int64), np.zeros((g, columns), dtype=np.int64),
            along(edges[combos + 1]), np.broadcast_to(self.gain[list(devices)][:, None],
                                                      (g, columns)),
            device=np.broadcast_to(np.array(devices)[:, None], (g, columns)),
            interference_power_w=along(edges[combos]), energy_power_w=along(edges[combos]),
        )  # fmt: skip
        shape = (g, len(combos), width)
        return (
            costs.local_s.reshape(shape), costs.transmit_s.reshape(shape),
            costs.energy_j.reshape(shape), cut,
        )  # fmt: skip


def _canonical(channels: list[int]) -> bool:
    """Whether channel labels appear in first-use order (0, then 0 or 1, ...): channels are
    interchangeable, so one labelling of each grouping is enough."""
    seen = -1
    for c in channels:
        if c > seen + 1:
            return False
        seen = max(seen, c)
    return True
