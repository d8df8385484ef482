"""zhang2026's window planner (policy ``planner``): per device a window size and, per task
position, its own choice among local only and (efficient cut, channel, server, power level).

What it maximises, per window, at the observed distances: Eq. 8's reward of the window averaged
over a few draws of the shadowing, which no decider observes (``stratified_shadowing``: every
device the same quantiles of the log-normal, in its own order), plus a look-ahead: the Eq. 8
rewards of the windows the tasks it leaves will need, each a full window of every device with
tasks left, each task at its expected latency and energy when that many devices have tasks
(``WindowPlanner.expected_task_costs``: the planner's own full-window plans at seeded
distances). Eq. 8 divides a window's cost by its mean window size, so an episode's return is
about the number of windows times a per-window cost, and a window where some devices have
nothing left costs more: the look-ahead lets a device whose tasks are costly now (far away, or
the one left without a channel) run a smaller window and catch up when they are cheap, as long
as it does not leave itself alone at the end. Without it the planner is myopic and shrinks
such windows every time, then pays for it in windows where one device is left alone.

Two searches over the same decisions and the same objective:

- ``exact_plan``: branch and bound over the window sizes and, position by position, the joint
  choice of the devices active there (a table per set of active devices, reduced to its Pareto
  front in the latencies and the linear part of Eq. 8, which is exact: a dominated row never
  raises the window's maximum nor its linear cost); positions with the same active devices are
  interchangeable, so their rows are chosen as a multiset; bounds by Lagrangian weights on the
  devices' latencies. A certificate on small instances (tests compare it with enumerating every
  decision); it grows exponentially with the devices.
- ``anytime_plan``: descent from several starts: for each device its best choice at all its
  positions at once, its window size with its choices or with any one option, and on small
  instances the best change of its choice at one position and of the joint choice of each
  pair of devices (among each one's best block choices); repeated until nothing improves,
  ``rounds`` are done, or the deadline passes (then the best plan so far: the moves read the
  clock between candidates). This is what ``decide`` runs; its gap to the exact search is
  measured in docs/planning.md. On large instances it also starts from ``allocation_start``,
  which shares the channels' task slots out among the devices (the plans where devices take
  turns on a channel, which its moves there cannot reach). The descent is compiled
  (``policies.descent``, Numba): each descent is one call, and a position's costs are
  computed once per problem and looked up by key afterwards.

The exact search and ``WindowProblem.evaluate`` cost plans with the simulator's own
``sim.window.task_costs`` and ``window_rewards`` (columns of a batch are independent positions:
interference and server sharing are counted per column); the compiled descent composes the
same formula functions, and tests hold the two equal.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from edgesplit.contract import Decision, WindowState
from edgesplit.errors import InvalidParameterError
from edgesplit.fields import Positive
from edgesplit.policies.descent import (
    KernelProblem,
    Store,
    descend,
    kernel_problem,
    lookahead_values,
    plan_costs,
)
from edgesplit.policies.registry import policy_from_spec
from edgesplit.policies.window import (
    FixedAssignment,
    GreedyMarginal,
    NearOffload,
    WindowPolicy,
    level_powers_w,
    option_index,
    options_per_cut,
    task_options,
)
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.window import (
    WindowSystem,
    efficient_cuts,
    median_gains,
    task_costs,
    window_rewards,
)


@dataclass(frozen=True)
class WindowProblem:
    """One window to plan: the gains, the tasks left and every device's options."""

    system: WindowSystem
    gain: np.ndarray  # [devices, samples]: path gain x sampled shadowing
    remaining: np.ndarray  # tasks per device
    options: np.ndarray  # [devices, K, 4]: (cut, channel, server, power_w), padded with row 0
    n_options: np.ndarray  # per device
    # expected latency and energy of a future task, [levels, devices]: row k - 1 when k devices
    # have tasks left (the last row for more); None plans myopically
    task_latency_s: np.ndarray | None = None
    task_energy_j: np.ndarray | None = None
    _compiled_parts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n_devices(self) -> int:
        return len(self.remaining)

    @property
    def width(self) -> int:
        return self.system.scenario.window_reward.window_max

    @property
    def cap(self) -> np.ndarray:
        """The largest window of each device (0 when it has no task left)."""
        return np.minimum(self.width, self.remaining)

    @property
    def kernel(self) -> KernelProblem:
        """The problem as the compiled search takes it (gathered once)."""
        return self._compiled()[0]

    @property
    def store(self) -> Store:
        """The columns the compiled search has computed for this problem."""
        return self._compiled()[1]

    def _compiled(self) -> tuple[KernelProblem, Store]:
        if "kernel" not in self._compiled_parts:
            self._compiled_parts["kernel"] = kernel_problem(
                self.system, self.options, self.n_options, self.gain, self.remaining,
                self.task_latency_s, self.task_energy_j,
            )  # fmt: skip
        return self._compiled_parts["kernel"]

    def lookahead(self, window: np.ndarray) -> np.ndarray:
        """Eq. 8's rewards of the windows left after ``window`` ([..., devices] -> [...]): full
        windows until every device is done, each task at its expected latency and energy for
        the number of devices with tasks in that window (``descent.lookahead``)."""
        window = np.asarray(window, dtype=np.int64)
        rows = np.ascontiguousarray(window.reshape(-1, self.n_devices))
        return lookahead_values(self.kernel, rows).reshape(window.shape[:-1])

    @property
    def n_samples(self) -> int:
        return self.gain.shape[1]

    def column_costs(self, active: np.ndarray, choice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Task latency and energy [devices, columns, samples] of [devices, columns] choices,
        each column one position, under each sampled shadowing, from the simulator's
        ``task_costs`` in one call (the exact search's tables and ``evaluate``)."""
        n, c, s = *choice.shape, self.n_samples
        rows = self.options[np.arange(n)[:, None], choice]
        tile = lambda a: np.repeat(a, s, axis=1)  # noqa: E731
        costs = task_costs(
            self.system, tile(active), tile(rows[..., 0].astype(np.int64)),
            tile(rows[..., 1].astype(np.int64)), tile(rows[..., 2].astype(np.int64)),
            tile(rows[..., 3]), np.tile(self.gain, (1, c)),
        )  # fmt: skip
        return costs.latency_s.reshape(n, c, s), costs.energy_j.reshape(n, c, s)

    def values(self, window: np.ndarray, latency_s: np.ndarray, energy_j: np.ndarray) -> np.ndarray:
        """Objective of candidates (Eq. 8's reward averaged over the samples, plus the
        look-ahead) from their per-device latency sums [devices, candidates, samples] and
        energies [candidates, samples]; ``window`` is [devices] or [devices, candidates]."""
        n, b, s = latency_s.shape
        window = np.asarray(window)
        per = np.broadcast_to(
            (window if window.ndim == 2 else window[:, None])[..., None], (n, b, s)
        )
        rewards = window_rewards(
            self.system.scenario, latency_s.reshape(n, b * s), per.reshape(n, b * s),
            energy_j.reshape(b * s),
        )[0]  # fmt: skip
        return rewards.reshape(b, s).mean(axis=1) + self.lookahead(per[..., 0].T)

    def evaluate(self, window: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """Objective of whole plans: ``window`` [B, devices], ``choice`` [B, devices, W]."""
        b, n, w = choice.shape
        active = np.arange(w)[None, None, :] < window[:, :, None]
        flat = lambda a: a.transpose(1, 0, 2).reshape(n, b * w)  # noqa: E731
        latency, energy = self.column_costs(flat(active), flat(choice))
        s = self.n_samples
        latency = latency.reshape(n, b, w, s).sum(axis=2)
        return self.values(window.T, latency, energy.reshape(n, b, w, s).sum(axis=(0, 2)))

    def decision(self, window: np.ndarray, choice: np.ndarray) -> Decision:
        """The plan as the env's action (a device without tasks is given 1: the env takes no
        more than the tasks left)."""
        rows = self.options[np.arange(self.n_devices)[:, None], choice]
        return Decision(
            cut=rows[..., 0].astype(np.int64), window=np.maximum(window, 1).astype(np.int64),
            channel=rows[..., 1].astype(np.int64), server=rows[..., 2].astype(np.int64),
            power_w=rows[..., 3].copy(),
        )  # fmt: skip


def padded_options(options: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-device option lists as one [devices, K, 4] array (short lists repeat row 0)."""
    counts = np.array([len(o) for o in options])
    index = np.arange(counts.max())
    out = np.stack([rows[np.where(index < len(rows), index, 0)] for rows in options])
    return out, counts


@dataclass
class Plan:
    """A plan being improved: windows, choices, and the cached per-position costs."""

    window: np.ndarray  # [devices]
    choice: np.ndarray  # [devices, W]; positions past a device's window hold what it would add
    latency_s: np.ndarray  # [devices, W, samples]
    energy_j: np.ndarray  # [devices, W, samples]
    value: float

    @classmethod
    def of(cls, problem: WindowProblem, window: np.ndarray, choice: np.ndarray) -> Plan:
        window = np.array(window, dtype=np.int64)
        choice = np.array(choice, dtype=np.int64)
        shape = (problem.n_devices, problem.width, problem.n_samples)
        latency, energy = np.empty(shape), np.empty(shape)
        value = plan_costs(problem.kernel, problem.store, window, choice, latency, energy)
        return cls(window, choice, latency, energy, float(value))


def planner_sharing(system: WindowSystem) -> int:
    """The most tasks per server the planner's cuts are efficient for (``efficient_cuts``):
    twice as many as there are channels per server (more offloading tasks than channels
    collide), at most the devices."""
    radio = system.scenario.radio
    return min(system.n_devices, 2 * -(-radio.channels // system.n_servers))


@dataclass(frozen=True)
class SlotTypes:
    """The task types of the channel-slot allocation: type 0 runs the task locally, type t >= 1
    offloads it at the device's ``cut_rank[t]``-th offloading cut with power level
    ``power_rank[t]`` (``POWER_LEVELS``); ``valid`` [devices, types] says which a device has,
    ``rows`` [devices, types, 4] is each type's (cut, channel 0, server 0, power_w) as
    ``task_options`` writes it (local only for type 0 and for types a device lacks)."""

    cut_rank: np.ndarray  # [types]
    power_rank: np.ndarray  # [types]
    valid: np.ndarray  # [devices, types]
    rows: np.ndarray  # [devices, types, 4]

    @classmethod
    def of(cls, system: WindowSystem, cuts: list[np.ndarray]) -> SlotTypes:
        """The types of per-device offloading ``cuts``."""
        powers = level_powers_w(system)
        n_types = np.array([len(c) for c in cuts]) * len(powers)
        types = np.arange(n_types.max() + 1)
        cut_rank, power_rank = (types - 1) // len(powers), (types - 1) % len(powers)
        valid = types[None] <= n_types[:, None]
        rows = np.zeros((len(cuts), len(types), 4))
        rows[..., 0] = (system.n_cuts - 1)[:, None]
        for d, device_cuts in enumerate(cuts):
            offloading = valid[d] & (types > 0)
            rows[d, offloading, 0] = device_cuts[cut_rank[offloading]]
            rows[d, offloading, 3] = powers[power_rank[offloading]]
        return cls(cut_rank, power_rank, valid, rows)

    @classmethod
    def of_options(cls, system: WindowSystem, options: np.ndarray, n_options) -> SlotTypes:
        """The types of a padded ``task_options`` table (``padded_options``)."""
        ranks = (np.asarray(n_options) - 1) // options_per_cut(system)
        first = [option_index(system, np.arange(r), 0, 0, 0) for r in ranks]
        return cls.of(system, [options[d, f, 0].astype(np.int64) for d, f in enumerate(first)])

    def option(self, system: WindowSystem, kind, channel, server):
        """The option index (``option_index``) of type ``kind`` on ``channel`` and ``server``
        (0 for type 0: local only)."""
        kind = np.asarray(kind)
        index = option_index(system, self.cut_rank[kind], channel, server, self.power_rank[kind])
        return np.where(kind > 0, index, 0)


def alone_costs(
    system: WindowSystem, types: SlotTypes, gain: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each device's latency and energy of one task of each type [devices, types]: the
    simulator's ``task_costs`` with the task alone on its channel and its server shared by
    channels / servers tasks (Eq. 2 is linear in the sharing), the means over the ``gain``
    draws [devices, samples]."""
    n, s = gain.shape
    radio, rows, k = system.scenario.radio, types.rows, types.rows.shape[1]
    tasks = n * k * s
    column = lambda a: np.repeat(a.ravel(), s)[None]  # noqa: E731  # each task its own column
    zero = np.zeros((1, tasks), dtype=np.int64)
    costs = task_costs(
        system, np.ones((1, tasks), dtype=bool), column(rows[..., 0].astype(np.int64)), zero,
        zero, column(rows[..., 3]), np.repeat(gain[:, None], k, 1).reshape(1, -1),
        device=column(np.repeat(np.arange(n), k)),
    )  # fmt: skip
    sharing = -(-min(radio.channels, n) // system.n_servers)
    latency = costs.latency_s + (sharing - 1) * costs.server_s
    return latency.reshape(n, -1, s).mean(axis=2), costs.energy_j.reshape(n, -1, s).mean(axis=2)


def place_slots(
    system: WindowSystem, cap: np.ndarray, slots: np.ndarray, kind: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each device's ``slots`` offloaded tasks of type ``kind`` laid out within its first
    ``cap`` positions -> per position [devices, W] the type (0: local), channel and server:
    the devices, most slots first, take the positions least used so far, each position's k-th
    task on channel k and server k mod M, so no two tasks share a channel at a position; a
    device's slots beyond the channels left run locally."""
    channels, servers = system.scenario.radio.channels, system.n_servers
    width = system.scenario.window_reward.window_max
    at, channel = np.zeros((2, len(cap), width), dtype=np.int64)
    used = [0] * width  # tasks offloaded at each position so far (lists: W is a handful)
    for device in np.argsort(-np.asarray(slots), kind="stable"):
        if slots[device] <= 0:
            break  # the rest place nothing
        free = sorted((used[x], x) for x in range(int(cap[device])) if used[x] < channels)
        for _, x in free[: int(slots[device])]:
            at[device, x], channel[device, x] = kind[device], used[x]
            used[x] += 1
    return at, channel, channel % servers


def allocation_start(problem: WindowProblem, grid: int = 64) -> np.ndarray:
    """A plan [devices, W] of option indices, full windows, built by allocating the channels'
    task slots: a channel carries at most one task per position (no interference), so a
    position offloads at most ``channels`` tasks, spread over the servers in turn.

    Each device offloads ``o`` of its tasks with one (cut, power) type and runs the others
    locally, at the costs of ``alone_costs``. For each target duration D (``grid`` values from
    the least possible slowest device up) and each price per slot (``grid`` quantiles of the
    devices' gains per slot, and 0), every device takes the (o, type) of best Eq. 8 part (its
    energy, its share of the waiting) within D, less the price of its slots; of the (D, price)
    pairs whose slots fit, the best Eq. 8 value wins. ``place_slots`` then lays the slots out.
    Channels and servers are taken as interchangeable; the descent that follows corrects the
    plan where they are not."""
    system, n, width = problem.system, problem.n_devices, problem.width
    reward, channels = system.scenario.window_reward, system.scenario.radio.channels
    types = SlotTypes.of_options(system, problem.options, problem.n_options)
    valid = types.valid
    latency, energy = alone_costs(system, types, problem.gain)
    # [devices, o, types]: the window's latency and energy with o tasks offloaded
    cap = problem.cap[:, None, None]
    o = np.arange(width + 1)[None, :, None]
    window_latency = (cap - o) * latency[:, None, :1] + o * latency[:, None, :]
    window_energy = (cap - o) * energy[:, None, :1] + o * energy[:, None, :]
    is_local = (np.arange(valid.shape[1]) == 0)[None, None, :]
    allowed = (o <= cap) & valid[:, None, :] & ((o == 0) == is_local)
    mean_window = max(problem.cap.mean(), 1e-12)
    busy = max(int((problem.cap > 0).sum()), 1)
    score = (reward.alpha / busy * window_latency - reward.beta / n * window_energy) / mean_window
    floor = np.where(allowed, window_latency, np.inf).min(axis=(1, 2)).max()
    durations = np.unique(window_latency[allowed & (window_latency >= floor)])
    durations = durations[np.unique(np.linspace(0, len(durations) - 1, grid).astype(int))]
    within = allowed[None] & (window_latency[None] <= durations[:, None, None, None])
    scored = np.where(within, score[None], -np.inf)  # [D, devices, o, types]
    best_type = scored.argmax(axis=3)
    best = np.take_along_axis(scored, best_type[..., None], axis=3)[..., 0]  # [D, devices, o]
    gains = (best[..., 1:] - best[..., :1]) / np.arange(1, width + 1)
    gains = gains[np.isfinite(gains) & (gains > 0)]
    prices = np.append(0.0, np.quantile(gains, np.linspace(0, 1, grid)) if gains.size else [])
    slots = (best[:, None] - prices[:, None, None] * np.arange(width + 1)).argmax(axis=3)
    kind = np.take_along_axis(best_type[:, None], slots[..., None], axis=3)[..., 0]
    chosen = np.take_along_axis(best[:, None], slots[..., None], axis=3)[..., 0]
    slowest = window_latency[np.arange(n), slots, kind].max(axis=2)  # [D, prices]
    value = -(1 + reward.alpha) * slowest / mean_window + chosen.sum(axis=2)
    capacity = np.minimum(channels, (problem.cap[None, :] > np.arange(width)[:, None]).sum(1))
    value = np.where(slots.sum(axis=2) <= capacity.sum(), value, -np.inf)
    d, p = np.unravel_index(np.argmax(value), value.shape)
    return types.option(system, *place_slots(system, problem.cap, slots[d, p], kind[d, p]))


def anytime_plan(
    problem: WindowProblem,
    starts: list[np.ndarray | tuple[np.ndarray, np.ndarray] | Callable[[], np.ndarray]],
    budget_s: float | None = None,
    small: bool = True,
    windows: bool = True,
    rounds: int = 8,
    deadline: float | None = None,
) -> Plan:
    """The best plan the descent reaches from each start (a choice [devices, W] with full
    windows, a (windows, choice) pair, or a function making a choice when its turn comes) in
    at most ``rounds`` rounds of moves, and, when ``budget_s`` is given, within that many
    seconds in all, or by ``deadline`` (a ``time.perf_counter()`` time) when that is given
    (then the best so far: the plan depends on the machine's speed; the first start is always
    evaluated, later ones only in time); ``windows=False`` keeps the start's windows, ``small``
    adds per-position and pair moves."""
    if deadline is None:
        deadline = time.perf_counter() + (np.inf if budget_s is None else budget_s)
    best = None
    for start in starts:
        if best is not None and time.perf_counter() >= deadline:
            break
        start = start() if callable(start) else start
        window, choice = start if isinstance(start, tuple) else (problem.cap, start)
        plan = Plan.of(problem, np.minimum(window, problem.cap), choice)
        plan.value = float(
            descend(
                problem.kernel, problem.store, plan.window, plan.choice, plan.latency_s,
                plan.energy_j, small, windows, rounds, deadline,
            )
        )  # fmt: skip
        if best is None or plan.value > best.value:
            best = plan
    return best


def exact_plan(problem: WindowProblem, incumbent: Plan | None = None) -> Plan:
    """The plan of greatest objective over every window size and every per-position choice
    (branch and bound; see the module docstring). ``incumbent`` seeds the bound."""
    search = _BranchAndBound(problem, -np.inf if incumbent is None else incumbent.value)
    sizes = [range(1, int(c) + 1) if c > 0 else range(1) for c in problem.cap]
    for window in itertools.product(*sizes):
        search.window(np.array(window))
    if search.best is None:
        return incumbent
    window, columns = search.best
    choice = np.zeros((problem.n_devices, problem.width), dtype=np.int64)
    choice[:, : columns.shape[1]] = columns
    return Plan.of(problem, window, choice)


class _BranchAndBound:
    """``exact_plan``'s search: one window vector at a time, positions in order."""

    tolerance = 1e-12

    def __init__(self, problem: WindowProblem, best_value: float) -> None:
        self.problem, self.best_value = problem, best_value
        self.best: tuple[np.ndarray, np.ndarray] | None = None
        reward = problem.system.scenario.window_reward
        self.alpha = reward.alpha
        self.energy_weight = reward.beta / problem.n_devices
        self.n_busy = max(int((problem.cap > 0).sum()), 1)
        self.tables: dict[tuple[bool, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def table(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pareto rows of the joint choices of the ``active`` devices at one position ->
        (choices [R, N], latencies [R, N, samples], linear parts of Eq. 8's numerator averaged
        over the samples [R])."""
        key = tuple(bool(a) for a in active)
        if key not in self.tables:
            p = self.problem
            ranges = [
                np.arange(k) if on else np.zeros(1, int)
                for k, on in zip(p.n_options, active, strict=True)
            ]
            choice = np.stack([g.ravel() for g in np.meshgrid(*ranges, indexing="ij")])
            latency, energy = p.column_costs(np.repeat(active[:, None], choice.shape[1], 1), choice)
            latency = latency.transpose(1, 0, 2)  # [R, N, S]
            linear = (
                self.energy_weight * energy.sum(axis=0) - self.alpha / self.n_busy * latency.sum(1)
            ).mean(axis=1)
            features = np.hstack([latency[:, active].reshape(len(linear), -1), linear[:, None]])
            keep = _pareto(features)
            keep = keep[np.argsort(linear[keep] + latency[keep].max(axis=1).mean(axis=1))]
            self.tables[key] = (choice[:, keep].T, latency[keep], linear[keep])
        return self.tables[key]

    def window(self, window: np.ndarray) -> None:
        """Search every per-position choice under these window sizes."""
        if window.sum() == 0:
            return
        self.mean_window = window.mean()
        self.future = float(self.problem.lookahead(window))
        self.layers = [self.table(window > x) for x in range(int(window.max()))]
        a = 1 + self.alpha
        # per position, the least of (1 + alpha) l_n + linear (weight 1 on device n's latency),
        # of each latency alone and of the linear part, summed from that position on
        self.by_device = _suffix_sums(
            [(a * lat.mean(axis=2) + lin[:, None]).min(axis=0) for _, lat, lin in self.layers]
        )
        self.least_latency = _suffix_sums([lat.min(axis=0) for _, lat, _ in self.layers])
        self.least_linear = _suffix_sums([lin.min() for _, _, lin in self.layers])
        self.window_sizes = window
        self.picked: list[int] = []
        zero = np.zeros((self.problem.n_devices, self.problem.n_samples))
        if self.value(self.bound(0, zero, 0.0)) > self.best_value + self.tolerance:
            self.search(0, zero, 0.0)

    def value(self, numerator: float) -> float:
        return -numerator / self.mean_window + self.future

    def bound(self, x: int, latency: np.ndarray, linear: float) -> float:
        """The least numerator of Eq. 8 (averaged over the samples) reachable from position
        ``x`` on, given the latencies [devices, samples] and linear part so far."""
        a = 1 + self.alpha
        by_device = (a * latency.mean(axis=1) + linear + self.by_device[x]).max()
        by_max = a * (latency + self.least_latency[x]).max(axis=0).mean() + linear
        return max(by_device, by_max + self.least_linear[x])

    def search(self, x: int, latency: np.ndarray, linear: float) -> None:
        _, lat, lin = self.layers[x]
        same = x > 0 and self.layers[x] is self.layers[x - 1]
        start = self.picked[-1] if same else 0  # interchangeable positions: a multiset
        if x == len(self.layers) - 1:  # the last position: every row at once
            slowest = (latency[None] + lat[start:]).max(axis=1).mean(axis=1)
            numerator = (1 + self.alpha) * slowest + linear + lin[start:]
            top = int(numerator.argmin())
            value = self.value(numerator[top])
            if value > self.best_value + self.tolerance:
                self.best_value = float(value)
                picked = [*self.picked, start + top]
                columns = [layer[0][j] for layer, j in zip(self.layers, picked, strict=True)]
                self.best = (self.window_sizes.copy(), np.array(columns).T)
            return
        for j in range(start, len(lin)):
            new_latency, new_linear = latency + lat[j], linear + lin[j]
            if (
                self.value(self.bound(x + 1, new_latency, new_linear))
                <= self.best_value + self.tolerance
            ):
                continue
            self.picked.append(j)
            self.search(x + 1, new_latency, new_linear)
            self.picked.pop()


def _suffix_sums(rows: list) -> np.ndarray:
    """Sums of ``rows[x:]`` for every x, and a row of zeros at the end."""
    rows = np.array(rows)
    return np.concatenate([np.cumsum(rows[::-1], axis=0)[::-1], np.zeros_like(rows[:1])])


def _pareto(features: np.ndarray) -> np.ndarray:
    """Indices of the rows no other row dominates (<= everywhere, < somewhere); of equal rows
    the first is kept."""
    order = np.lexsort(features.T[::-1])
    kept: list[int] = []
    front = np.empty((0, features.shape[1]))
    for i in order:
        row = features[i]
        if len(front) and (front <= row).all(axis=1).any():
            continue
        kept.append(int(i))
        front = np.vstack([front, row])
    return np.array(kept, dtype=np.int64)


def stratified_shadowing(
    std_db: float, n_devices: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """[devices, samples] shadowing gains: the log-normal cut into ``samples`` strata of equal
    probability, each represented by the gain whose inverse is the stratum's mean inverse
    gain; every device gets the same values, in its own random order, so that no device is
    planned as luckier than another and the devices' draws are independent.

    The inverse gain is what a weak link's air time grows with (rate ~ gain at low SNR), and
    the strata's means make the mean of the samples' inverse gains the log-normal's own,
    exp(a^2 / 2) with a the spread of ln gain: a stratum's midpoint (the median of the lowest
    of 8 strata is -12.3 dB at 8 dB) would put it at 63 % of that, and so underrate the few
    deep fades that cost a low-power offload seconds."""
    if std_db == 0:
        return np.ones((n_devices, 1))
    a = std_db * np.log(10.0) / 10.0  # the spread of ln gain; 1/gain = exp(-a z), z ~ N(0, 1)
    edges = stats.norm.ppf(np.arange(samples + 1) / samples)
    # E[exp(-a z); lo < z < hi] = exp(a^2 / 2) (Phi(hi + a) - Phi(lo + a)), per stratum
    mass = stats.norm.sf(edges[:-1] + a) - stats.norm.sf(edges[1:] + a)
    z = -(a * a / 2 + np.log(mass * samples)) / a
    db = z * std_db
    return 10.0 ** (rng.permuted(np.tile(db, (n_devices, 1)), axis=1) / 10.0)


class WindowPlanner(WindowPolicy):
    """zhang2026's window planner (see the module docstring). Per window: the anytime search
    with full windows from the best of the given deciders' plans (the rules on small
    instances, ``start``'s decider), then on large instances the channel-slot allocation, then
    the last window's plan and all-local (a budget is spent in that order), then with the window
    sizes free from the best of those (and, on small instances, from it with each device's
    window cut to one task). ``budget_s`` (None: deterministic) bounds the seconds of one
    decision. Its offloading cuts are the efficient cuts for up to twice as many tasks per
    server as there are channels per server (more offloading tasks than channels collide): on
    the presets up to 3 devices those are the efficient cuts themselves; at 100 devices 2
    cuts instead of 194. Instances of more than ``small_devices`` devices drop the
    per-position and pair moves, and a device with more than 200 options tries only the
    neighbourhood of its choice (``descent._neighbourhood``)."""

    name = "planner"
    # the practitioner's rules whose plans the search also starts from, on small instances
    # (larger ones start from the channel-slot allocation: at 100 devices the rules' plans score
    # -44,000 and worse, and scoring each would take 90 ms of the budget)
    rules = (FixedAssignment, NearOffload, GreedyMarginal)
    budget_s: float | None = None  # seconds per decision (None: deterministic, ``rounds``)
    settable: ClassVar[dict[str, Any]] = {"budget_s": Positive, "start": str}
    assembly_s = 0.0005  # of a budget, kept for making the decision of the plan found
    lookahead = True
    small_devices = 8  # up to this many devices, per-position and pair moves
    # (small instances, larger ones): rounds of moves, shadowing draws the objective averages
    # over, distance draws per number of busy devices for the expected task costs
    rounds = (8, 2)
    shadowing_samples = (8, 4)
    samples = (16, 2)
    max_options = 5_000_000  # over all devices: the padded option table is 32 bytes each

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        super().__init__(scenario, seed)
        self.seed = seed
        system = self.system
        sharing = planner_sharing(system)
        cuts = efficient_cuts(system, sharing)
        total = sum(len(c) * options_per_cut(system) + 1 for c in cuts)
        if total > self.max_options:
            raise InvalidParameterError(
                "policy planner", f"{total:,} options over {system.n_devices} devices",
                f"at most {self.max_options:,} (fewer devices, channels, servers or cuts: "
                f"{len(cuts[0])} cuts are efficient for {sharing} tasks per server)",
            )  # fmt: skip
        options = task_options(system, cuts)
        self.options, self.n_options = padded_options(options)
        self.last: np.ndarray | None = None
        self.small = self.system.n_devices <= self.small_devices
        self.size = 0 if self.small else 1
        self.shadow = stratified_shadowing(
            self.scenario.radio.shadowing_std_db, self.system.n_devices,
            self.shadowing_samples[self.size], np.random.default_rng([seed, 1]),
        )  # fmt: skip
        self.task_latency_s = self.task_energy_j = None
        if self.lookahead:
            self.task_latency_s, self.task_energy_j = self.expected_task_costs(seed)
        rules = self.rules if self.small else ()
        self.rule_deciders = [rule(self.scenario, seed) for rule in rules]
        self.start = "none"
        self.known = [
            {tuple(row): k for k, row in enumerate(self.options[n, : self.n_options[n]])}
            for n in range(system.n_devices)
        ]  # per device, its option rows' indices

    def expected_task_costs(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The mean latency and energy of a task [levels, devices] in the planner's best
        full-window plans at ``samples`` seeded draws of the distances: on small instances for
        every number k of devices with tasks (a random k of them; row k - 1), on larger ones for
        all devices (one row)."""
        system = self.system
        n = system.n_devices
        counts = range(1, n + 1) if self.small else range(n, n + 1)
        rng = np.random.default_rng([seed, 2])
        latency, energy = np.zeros((len(counts), n)), np.zeros((len(counts), n))
        for row, k in enumerate(counts):
            seen = np.zeros(n)
            for _ in range(self.samples[self.size]):
                distance = rng.uniform(system.distance_low, system.distance_high)
                gain = median_gains(system, distance)
                remaining = np.zeros(n, dtype=np.int64)
                remaining[rng.choice(n, k, replace=False)] = self.width
                plan = self.search(self.problem(gain, remaining), [], windows=False)
                busy = remaining > 0
                latency[row, busy] += plan.latency_s[busy].mean(axis=(1, 2))
                energy[row, busy] += plan.energy_j[busy].mean(axis=(1, 2))
                seen += busy
            for table in (latency, energy):  # a device never drawn: the others' mean
                table[row] = np.where(seen > 0, table[row] / np.maximum(seen, 1), 0.0)
                table[row, seen == 0] = table[row, seen > 0].mean()
        return latency, energy

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.last = None
        for decider in self._started():
            decider.reset(seed)

    def problem(self, gain: np.ndarray, remaining: np.ndarray) -> WindowProblem:
        return WindowProblem(
            self.system, gain[:, None] * self.shadow, np.asarray(remaining, dtype=np.int64),
            self.options, self.n_options, self.task_latency_s, self.task_energy_j,
        )  # fmt: skip

    def known_problem(self, gain: np.ndarray, remaining: np.ndarray) -> WindowProblem:
        """This window's problem when its gains are known (one sample: ``gain`` itself) and
        nothing after it counts (no look-ahead): what a clairvoyant decider plans, and whose
        objective is then the env's Eq. 8 reward (the bound's tests and benchmark use it)."""
        return WindowProblem(
            self.system, np.asarray(gain, dtype=np.float64)[:, None],
            np.asarray(remaining, dtype=np.int64), self.options, self.n_options,
        )  # fmt: skip

    def search(
        self,
        problem: WindowProblem,
        starts: list[np.ndarray],
        windows: bool,
        deadline: float | None = None,
        first: list[np.ndarray] | None = None,
    ) -> Plan:
        """The anytime search from ``first``, the channel-slot allocation, ``starts`` and
        all-local, in that order (windows full, then free), by ``deadline`` (a
        ``time.perf_counter()`` time; None: at ``budget_s`` from now, or no limit)."""
        local = np.zeros((problem.n_devices, self.width), dtype=np.int64)  # row 0: local only
        small, rounds = self.small, self.rounds[self.size]
        if deadline is None and self.budget_s is not None:
            deadline = time.perf_counter() + self.budget_s
        # the channel-slot allocation gives large instances the plans that take turns on the
        # channels (their descent has no per-position moves); small ones find those anyway
        allocation = [] if small else [lambda: allocation_start(problem)]  # made in its turn
        starts = [*(first or []), *allocation, *starts, local]
        plan = anytime_plan(problem, starts, None, small, False, rounds, deadline)
        if not windows or (deadline is not None and time.perf_counter() >= deadline):
            return plan
        # from the full windows, and (small instances) from each busy device's window cut to one
        starts = [(problem.cap, plan.choice)]
        for n in np.flatnonzero(problem.cap > 1) if small else []:
            window = problem.cap.copy()
            window[n] = 1
            starts.append((window, plan.choice))
        return anytime_plan(problem, starts, None, small, True, rounds, deadline)

    def decide(self, observation: np.ndarray) -> Decision:
        """The plan of this window (``plan``)."""
        problem, plan, _ = self.plan(observation)
        return problem.decision(plan.window, plan.choice)

    def plan(self, observation: np.ndarray) -> tuple[WindowProblem, Plan, list[np.ndarray]]:
        """This window's problem, its plan and the given deciders' plans (choices [devices,
        W]: the rules' on small instances, then ``start``'s decider's): the search starts from
        the best of them (by the planner's own objective, so that its plan is never worse than
        any of them: it is descended first, whatever the budget), the last window's plan and
        all-local.
        With ``budget_s``, by that many seconds after the call: the rules and building the
        problem count, and the search stops ``assembly_s`` (at most a tenth of the budget)
        before it, its moves reading the clock between candidates (``descent._late``)."""
        deadline = None
        if self.budget_s is not None:
            reserve = min(self.assembly_s, self.budget_s / 10)
            deadline = time.perf_counter() + self.budget_s - reserve
        state = WindowState.decode(observation, self.system.n_devices)
        deciders = [*self.rule_deciders, *self._started()]
        given = [_option_rows(decider.decide(observation)) for decider in deciders]
        options, counts, starts = self._indexed(given + ([] if self.last is None else [self.last]))
        problem = replace(
            self.problem(median_gains(self.system, state.distance_m), state.remaining),
            options=options, n_options=counts,
        )  # fmt: skip
        ruled = starts[: len(given)]
        best = [max(ruled, key=lambda c: Plan.of(problem, problem.cap, c).value)] if ruled else []
        plan = self.search(problem, starts[len(given) :], self.lookahead, deadline, best)
        self.last = problem.options[np.arange(self.system.n_devices)[:, None], plan.choice]
        return problem, plan, ruled

    @property
    def start(self) -> str:
        """A decider whose decision the search also starts from, as --policy names it
        (``slot-ppo=slot-ppo-zhang2026-100``), or "none" (the default: measured at 100 devices,
        the shipped learner as a start did not raise the planner's return; docs/planning.md).
        Setting it builds that decider."""
        return self.starter[0]

    @start.setter
    def start(self, spec: str) -> None:
        try:
            built = None if spec == "none" else policy_from_spec(spec, self.scenario, self.seed)[1]
        except InvalidParameterError as error:
            allowed = f'"none" or a decider as --policy names it ({error})'
            raise InvalidParameterError("--set start", spec, allowed) from None
        self.starter = (spec, built)

    def _started(self) -> list[WindowPolicy]:
        return [] if self.starter[1] is None else [self.starter[1]]

    def _indexed(self, given: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
        """Plans given as option rows [devices, W, 4] as choices of this planner -> (the option
        table with the rows it lacked appended per device, the option counts, each plan's
        choices [devices, W]); a local-only row is option 0."""
        n = self.system.n_devices
        extra: list[dict[tuple, int]] = [{} for _ in range(n)]
        choices = []
        for rows in given:
            choice = np.zeros(rows.shape[:2], dtype=np.int64)
            for d, x in itertools.product(range(n), range(rows.shape[1])):
                key = tuple(rows[d, x])
                if key[0] != self.system.n_cuts[d] - 1:
                    known = self.known[d].get(key)
                    fresh = self.n_options[d] + len(extra[d])
                    choice[d, x] = known if known is not None else extra[d].setdefault(key, fresh)
            choices.append(choice)
        counts = self.n_options + np.array([len(e) for e in extra])
        if counts.max() <= self.options.shape[1]:
            options = self.options.copy()
        else:
            options = np.repeat(self.options[:, :1], counts.max(), axis=1)
            options[:, : self.options.shape[1]] = self.options
        for d, rows in enumerate(extra):
            for key, k in rows.items():
                options[d, k] = key
        return options, counts, choices


def _option_rows(decision: Decision) -> np.ndarray:
    """A decision's per-task choices as option rows [devices, W, 4] (cut, channel, server,
    power as the env's float32 action holds it)."""
    power = decision.power_w.astype(np.float32).astype(np.float64)
    return np.stack([decision.cut, decision.channel, decision.server, power], axis=-1).astype(
        np.float64
    )
