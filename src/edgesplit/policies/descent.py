"""The window planner's anytime descent (``policies.planner``), compiled with Numba.

A decision of the planner makes about 160 moves on zhang2026, each scoring tens to thousands of
candidate plans; in NumPy each move cost 0.3-0.6 ms of array calls on arrays of a few dozen
numbers (88-92 ms a decision). Here a whole descent (every round of every move from one start)
is one compiled call. A candidate is scored in scalar loops from its positions' columns (one
position's tasks of every device): each column is computed once per window problem and looked up
by its key afterwards (on instances whose keys fit in 62 bits), positions holding the same
tasks are looked up once, and a plan where no pair move improves is remembered (docs/planning.md
gives the measurements).

The quantities are not written again: the kernels compile the functions the simulator composes
(``net.shannon_rate_bps``, ``costs.task_latency_s``, ``costs.server_share_s``,
``costs.link.codec_per_bit_s`` and ``codec_terms``, ``sim.window.eq8_reward``) on floats; a
task's latency and energy, linear in its link and air times, are taken as ``task_latency_s``'s
and ``task_energy_j``'s values at the parts that do not depend on the rate plus their slopes,
computed by those functions. What is written here is how a position's tasks are put together
(the interference on each channel and the sharing of each server, as ``sim.window.task_costs``
does with arrays) and Eq. 8's duration and waiting (as ``sim.window.window_rewards``); tests
hold both equal to the simulator's, and the search's plans to the exact search's.

The compiled code is cached on disk (the first use on a machine compiles for 15-20 s); the
cache's stamp covers every file whose functions the kernels compile (``_DependencyStamp``).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import time
from pathlib import Path

import numba
import numpy as np
from numba.core import caching, types
from numba.experimental import structref

from edgesplit.costs import terms
from edgesplit.costs.link import codec_per_bit_s, codec_terms
from edgesplit.costs.terms import server_share_s, task_latency_s
from edgesplit.net.shannon import shannon_rate_bps
from edgesplit.sim.window import WindowSystem, clipped_power_w, eq8_reward


class _DependencyStamp:
    """Numba's on-disk cache keys a compiled function by its own file's contents only, so a
    kernel compiled with an older ``task_latency_s`` would be loaded after costs/terms.py
    changed. For this file's functions, the stamp also covers the files of every function the
    kernels compile (``_DEPENDENCIES``), wherever numba keeps the cache."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.abspath(py_file) != os.path.abspath(__file__):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        files = sorted({inspect.getsourcefile(f) for f in _DEPENDENCIES} | {__file__})
        contents = b"".join(Path(f).read_bytes() for f in files)
        return super().get_source_stamp(), hashlib.sha256(contents).hexdigest()


# the simulator's formula functions the kernels compile (and whose files the cache stamp covers)
_DEPENDENCIES = (
    shannon_rate_bps, task_latency_s, server_share_s, codec_per_bit_s, codec_terms, eq8_reward,
)  # fmt: skip
caching.CacheImpl._locator_classes[:0] = [
    type(f"Stamped{base.__name__}", (_DependencyStamp, base), {})
    for base in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                 caching.UserWideCacheLocator)
]  # fmt: skip
_jit = numba.njit(cache=True)
_shannon, _latency, _share, _per_bit, _link, _eq8 = (_jit(f) for f in _DEPENDENCIES)

FULL_OPTIONS = 200  # above this, a device's moves try the neighbourhood of its choice
SHORTLIST = 16  # a device's best block choices that the pair moves combine
TOLERANCE = 1e-12  # a move is taken when it improves the objective by more than this
KEY_BITS = 62  # columns are looked up by a key of at most this many bits
SETTLED = 64  # plans kept per problem where no pair move improves
PASSED = 256  # plans kept per problem that a descent passed on its way to convergence
CLOCK_WORK = 4096  # with a deadline, the clock is read per this many task costs summed
STORE_SLOTS = 1 << 15  # columns kept per problem (a decision on zhang2026 computes ~3,600)


class _Fields(types.StructRef):
    """A compiled structure's type: its fields typed as their values, literals widened."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


@structref.register
class _ProblemType(_Fields):
    pass


class KernelProblem(structref.StructRefProxy):
    """One window's problem as the kernels take it (a structure passed by reference, so that
    the functions that take it compile quickly and are cached across processes). Fields, per
    [device, option] unless noted:

    offload: bool: the option sends something (its cut is not the last)
    channel
    server
    power_w: as the radio takes it (clipped)
    head_s
    tail_s: on its server with all threads
    bits: what the cut sends (fp32)
    head_j: task_energy_j of the head alone (nothing sent)
    device_j_per_s: per device: its slope in the device's time (encoding)
    air_j_per_s: its slope in the air time
    options: [devices, options, 4]: (cut, channel, server, power_w) as planned
    n_options: per device
    gain: [devices, samples]
    bandwidth_hz
    noise_w
    n_channels
    n_servers
    encode_s_per_bit: per codec
    decode_s_per_bit
    wire_ratio
    transport_s_per_bit
    request_s
    alpha
    beta
    width: W_max
    remaining: tasks per device
    cap: the largest window per device
    task_latency_s: [levels, devices]: the look-ahead's task costs (0 levels: none)
    task_energy_j
    strides: per device: a column's key is sum(strides x (choice + 1 if active)) (zeros when
        the keys would not fit: the store then keeps no column)
    """


PROBLEM_FIELDS = (
    "offload",
    "channel",
    "server",
    "power_w",
    "head_s",
    "tail_s",
    "bits",
    "head_j",
    "device_j_per_s",
    "air_j_per_s",
    "options",
    "n_options",
    "gain",
    "bandwidth_hz",
    "noise_w",
    "n_channels",
    "n_servers",
    "encode_s_per_bit",
    "decode_s_per_bit",
    "wire_ratio",
    "transport_s_per_bit",
    "request_s",
    "alpha",
    "beta",
    "width",
    "remaining",
    "cap",
    "task_latency_s",
    "task_energy_j",
    "strides",
)
structref.define_proxy(KernelProblem, _ProblemType, list(PROBLEM_FIELDS))


@structref.register
class _StoreType(_Fields):
    pass


class Store(structref.StructRefProxy):
    """The columns computed so far for one problem (none kept when its keys do not fit): an
    open-addressing hash table of their ``keys`` (-1: empty) and each one's slot in ``costs``
    [slots, 2 (latency, energy), devices, samples], of which ``used`` are filled; once every
    slot is used, further columns are computed into ``spare`` each time they are asked.
    ``channel_w`` ([channels, samples]) and ``sharing`` ([servers]) are scratch. ``settled``
    holds the first ``n_settled`` plans (windows, then choices, flattened) where every pair move
    was tried and none improved: a descent that reaches one again skips them. ``passed`` holds
    the first ``n_passed`` plans a descent began a round with on its way to convergence, each
    row the plan, whether window moves were on, the rounds it took from there and the plan it
    converged to (objective in ``passed_value``): a descent that begins a round with one of them
    and has those rounds left jumps to that end (small instances)."""


structref.define_proxy(
    Store,
    _StoreType,
    [
        "keys", "slots", "costs", "used", "spare", "channel_w", "sharing", "settled",
        "n_settled", "passed", "passed_value", "n_passed",
    ],
)  # fmt: skip


def kernel_problem(
    system: WindowSystem,
    options: np.ndarray,
    n_options: np.ndarray,
    gain: np.ndarray,
    remaining: np.ndarray,
    task_latency_s: np.ndarray | None,
    task_energy_j: np.ndarray | None,
) -> tuple[KernelProblem, Store]:
    """A window problem (``planner.WindowProblem``'s fields) as the kernels take it, and an
    empty ``Store`` for its columns."""
    radio, link, reward = system.scenario.radio, system.link, system.scenario.window_reward
    n = len(remaining)
    cut = options[..., 0].astype(np.int64)
    server = options[..., 2].astype(np.int64)
    rows = system.row_offset[np.arange(n)[:, None], server] + cut
    power = clipped_power_w(options[..., 3], radio.max_transmit_power_w)
    cpu_w, per_mac = system.compute_power_w[:, None], system.energy_per_mac_j[:, None]
    macs = system.device_macs[rows]
    energy = lambda device_s, air_s, macs: terms.task_energy_j(  # noqa: E731
        device_s, cpu_w, air_s, power, device_macs=macs, energy_per_mac_j=per_mac
    )
    head_j = energy(system.head_s[rows], 0.0, macs)
    nothing = energy(0.0, 0.0, 0.0)
    radix = np.asarray(n_options, dtype=np.int64) + 1
    keyed = bool(np.log2(radix.astype(np.float64)).sum() <= KEY_BITS)
    levels = np.zeros((0, n)) if task_latency_s is None else task_latency_s
    fields = dict(
        offload=cut < system.n_cuts[:, None] - 1,
        channel=options[..., 1].astype(np.int64),
        server=server,
        power_w=power,
        head_s=system.head_s[rows],
        tail_s=system.server_s[rows],
        bits=system.transfer_bits[rows].astype(np.float64),
        head_j=head_j,
        device_j_per_s=np.ascontiguousarray((energy(1.0, 0.0, 0.0) - nothing)[:, 0]),
        air_j_per_s=energy(0.0, 1.0, 0.0) - nothing,
        options=options,
        n_options=np.asarray(n_options, dtype=np.int64),
        gain=np.ascontiguousarray(gain, dtype=np.float64),
        bandwidth_hz=float(radio.bandwidth_hz),
        noise_w=float(radio.noise_w),
        n_channels=int(radio.channels),
        n_servers=int(system.n_servers),
        encode_s_per_bit=link.encode_s_per_bit.astype(np.float64),
        decode_s_per_bit=link.decode_s_per_bit.astype(np.float64),
        wire_ratio=link.wire_ratio.astype(np.float64),
        transport_s_per_bit=float(link.transport_s_per_bit),
        request_s=float(link.request_s),
        alpha=float(reward.alpha),
        beta=float(reward.beta),
        width=int(reward.window_max),
        remaining=np.asarray(remaining, dtype=np.int64),
        cap=np.minimum(reward.window_max, remaining).astype(np.int64),
        task_latency_s=np.asarray(levels, dtype=np.float64),
        task_energy_j=np.zeros_like(levels) if task_energy_j is None else task_energy_j,
        strides=_strides(radix) if keyed else np.zeros(n, dtype=np.int64),
    )
    slots = STORE_SLOTS if keyed else 0
    n_samples = fields["gain"].shape[1]
    store = (
        np.full(2 * slots, -1, dtype=np.int64), np.empty(2 * slots, dtype=np.int64),
        np.empty((slots, 2, n, n_samples)), 0, np.empty((2, n, n_samples)),
        np.empty((radio.channels, n_samples)), np.empty(system.n_servers, dtype=np.int64),
        np.empty((SETTLED, n * (reward.window_max + 1)), dtype=np.int64), 0,
        np.empty((PASSED, 2 * n * (reward.window_max + 1) + 2), dtype=np.int64),
        np.empty(PASSED), 0,
    )  # fmt: skip
    return _built(tuple(fields[name] for name in PROBLEM_FIELDS), store)


def _strides(radix: np.ndarray) -> np.ndarray:
    """Place values of a mixed-radix number whose digits (first most significant) have the
    bases ``radix``: a vector of digits times this is its index."""
    return np.append(np.cumprod(radix[::-1])[::-1][1:], 1)


@_jit
def _built(problem, store):
    """The structures from their fields (built here, compiled once and cached, rather than
    by the proxies' constructors, which compile in every process)."""
    return KernelProblem(*problem), Store(*store)


@_jit
def compute_column(p, choice, active, latency_s, energy_j, channel_w, sharing):
    """Latency and energy [devices, samples] of one position's tasks: device n runs option
    ``choice[n]`` when ``active[n]``; the tasks interfere on their channels and share their
    servers. ``channel_w`` ([channels, samples]) and ``sharing`` ([servers]) are scratch. A
    task's latency and energy are linear in its link and air times (``task_latency_s``,
    ``task_energy_j``): the parts that do not depend on the sample's rate are taken once."""
    n_devices, n_samples = p.gain.shape
    per_link_s = _latency(0.0, 1.0, 0.0, 0.0, 0.0) - _latency(0.0, 0.0, 0.0, 0.0, 0.0)
    channel_w[:, :] = 0.0
    sharing[:] = 0
    for n in range(n_devices):
        k = choice[n]
        if active[n] and p.offload[n, k]:
            sharing[p.server[n, k]] += 1
            for s in range(n_samples):
                channel_w[p.channel[n, k], s] += p.power_w[n, k] * p.gain[n, s]
    for n in range(n_devices):
        k = choice[n]
        if not active[n]:
            latency_s[n, :] = 0.0
            energy_j[n, :] = 0.0
            continue
        head = p.head_s[n, k]
        if not p.offload[n, k]:
            latency_s[n, :] = _latency(head, 0.0, 0.0, 0.0, 0.0)
            energy_j[n, :] = p.head_j[n, k]
            continue
        server = _share(p.tail_s[n, k], float(sharing[p.server[n, k]]))
        fixed_s = _latency(head, 0.0, server, 0.0, 0.0)
        for s in range(n_samples):
            received = p.power_w[n, k] * p.gain[n, s]
            interference = channel_w[p.channel[n, k], s] - received
            rate = _shannon(p.bandwidth_hz, received, p.noise_w, interference)
            best, codec = np.inf, 0
            for c in range(len(p.wire_ratio)):  # the fastest codec, the first of equal ones
                per_bit = _per_bit(
                    p.encode_s_per_bit[c], p.decode_s_per_bit[c], p.wire_ratio[c],
                    p.transport_s_per_bit, rate,
                )  # fmt: skip
                if per_bit < best:
                    best, codec = per_bit, c
            link_s, air_s, device_s = _link(
                p.bits[n, k], rate, best, p.wire_ratio[codec], p.encode_s_per_bit[codec],
                p.request_s,
            )  # fmt: skip
            latency_s[n, s] = fixed_s + per_link_s * link_s
            energy_j[n, s] = (
                p.head_j[n, k] + p.device_j_per_s[n] * device_s + p.air_j_per_s[n, k] * air_s
            )


@_jit
def column(p, store, choice, active):
    """The costs [2 (latency, energy), devices, samples] of one position's tasks, looked up or
    computed (a column computed into ``store.spare`` is valid until the next call)."""
    if len(store.keys) == 0:
        out = store.spare
        compute_column(p, choice, active, out[0], out[1], store.channel_w, store.sharing)
        return out
    key = 0
    for n in range(len(choice)):
        if active[n]:
            key += p.strides[n] * (choice[n] + 1)
    mask = len(store.keys) - 1
    at = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
    while store.keys[at] >= 0:
        if store.keys[at] == key:
            return store.costs[store.slots[at]]
        at = (at + 1) & mask
    if store.used == len(store.costs):
        out = store.spare
    else:
        out = store.costs[store.used]
        store.keys[at], store.slots[at] = key, store.used
        store.used += 1
    compute_column(p, choice, active, out[0], out[1], store.channel_w, store.sharing)
    return out


@_jit
def _reward(duration_s, slack_s, busy, tasks, n_devices, energy_j, alpha, beta):
    """Eq. 8 from the slowest device's latency, the busy devices' total lag behind it, their
    count, the tasks and the energy (0 for a window without tasks)."""
    if tasks == 0:
        return 0.0
    return _eq8(duration_s, slack_s / busy, tasks / n_devices, energy_j, alpha, beta, n_devices)


@_jit
def lookahead(p, window):
    """Eq. 8's rewards of the windows the tasks left after ``window`` need: full windows until
    every device is done, each task at the look-ahead's expected latency and energy for the
    number of devices with tasks in that window (``planner.WindowPlanner.expected_task_costs``)."""
    levels = p.task_latency_s.shape[0]
    n_devices = len(window)
    if levels == 0:
        return 0.0
    most = 0
    for n in range(n_devices):
        most = max(most, p.remaining[n] - window[n])
    total = 0.0
    for start in range(0, most, p.width):
        busy = 0
        for n in range(n_devices):
            busy += p.remaining[n] - window[n] - start > 0
        row = min(max(busy, 1), levels) - 1
        duration, slack, tasks, energy = 0.0, 0.0, 0, 0.0
        for n in range(n_devices):
            size = min(max(p.remaining[n] - window[n] - start, 0), p.width)
            duration = max(duration, size * p.task_latency_s[row, n])
        for n in range(n_devices):
            size = min(max(p.remaining[n] - window[n] - start, 0), p.width)
            tasks += size
            energy += size * p.task_energy_j[row, n]
            if size > 0:
                slack += duration - size * p.task_latency_s[row, n]
        total += _reward(duration, slack, busy, tasks, n_devices, energy, p.alpha, p.beta)
    return total


@_jit
def lookahead_values(p, windows):
    """``lookahead`` of each row of ``windows`` [candidates, devices]."""
    out = np.empty(len(windows))
    for b in range(len(windows)):
        out[b] = lookahead(p, windows[b])
    return out


@_jit
def _mean_reward(p, held_s, added_s, held_j, added_j, window):
    """Eq. 8 averaged over the samples of a plan whose devices' latency sums are ``held_s`` +
    ``added_s`` ([devices, samples]) and energies ``held_j`` + ``added_j`` ([samples]). At one
    set of window sizes Eq. 8 is linear in the duration, the waiting and the energy, so the
    mean of the samples' rewards is the reward of their means."""
    n_devices, n_samples = held_s.shape
    tasks, busy = 0, 0
    for n in range(n_devices):
        tasks += window[n]
        busy += window[n] > 0
    duration, slack, energy = 0.0, 0.0, 0.0
    for s in range(n_samples):
        slowest = 0.0
        for n in range(n_devices):
            slowest = max(slowest, held_s[n, s] + added_s[n, s])
        duration += slowest
        for n in range(n_devices):
            if window[n] > 0:
                slack += slowest - (held_s[n, s] + added_s[n, s])
        energy += held_j[s] + added_j[s]
    return _reward(
        duration / n_samples, slack / n_samples, busy, tasks, n_devices, energy / n_samples,
        p.alpha, p.beta,
    )  # fmt: skip


@structref.register
class _SearchType(_Fields):
    pass


class Search(structref.StructRefProxy):
    """A plan being improved by the descent, and its scratch:

    p
    store
    window: the plan: [devices]
    choice: [devices, W]
    latency_s: its task costs [devices, W, samples]
    energy_j
    value: its objective
    ranked: [devices, SHORTLIST]: each one's best block choices, best first
    n_ranked: [devices]: how many (0 until its first block move)
    deadline: a time.perf_counter() time (inf: none)
    late: whether it has passed (the clock read at every ``every``-th of ``calls`` to
        ``_late``: about every 2 us of candidates on small instances, every one at scale)
    calls
    every
    column: scratch: a position's choices
    active: whether each device runs a task there
    total_s: [devices, samples]: a candidate's latency sums
    zero_s: [devices, samples] of zeros
    total_j: [samples]: a candidate's energy
    added_j
    trial_window: a candidate's windows (window moves)
    first: a move's combinations: the first device's options
    second: the second's
    values: their objectives
    lists: [2, SHORTLIST + W]: a pair's options
    held_s: [devices, samples]: the latency sums of the positions a block move leaves
    held_j: [samples]: their energy
    runs: [W + 1]: per position, the length of the run of positions holding the same tasks
        (but the moved devices' choices) that starts there, else 0
    """


structref.define_proxy(
    Search,
    _SearchType,
    [
        "p",
        "store",
        "window",
        "choice",
        "latency_s",
        "energy_j",
        "value",
        "ranked",
        "n_ranked",
        "deadline",
        "late",
        "calls",
        "every",
        "column",
        "active",
        "total_s",
        "zero_s",
        "total_j",
        "added_j",
        "trial_window",
        "first",
        "second",
        "values",
        "lists",
        "held_s",
        "held_j",
        "runs",
    ],
)


@_jit
def _search(p, store, window, choice, latency_s, energy_j, ranked, deadline):
    """A ``Search`` of the plan (``window``, ``choice``, its costs) by ``deadline``; ``ranked``:
    keep each device's best block choices (the pair moves use them)."""
    n_devices, n_samples = p.gain.shape
    most = max(p.options.shape[1], (SHORTLIST + p.width) ** 2)
    return Search(
        p, store, window, choice, latency_s, energy_j, -np.inf,
        np.zeros((n_devices, SHORTLIST if ranked else 0), dtype=np.int64),
        np.zeros(n_devices, dtype=np.int64), deadline, False, 0,
        1 + CLOCK_WORK // (n_devices * n_samples * p.width),
        np.empty(n_devices, dtype=np.int64), np.empty(n_devices, dtype=np.bool_),
        np.empty((n_devices, n_samples)), np.zeros((n_devices, n_samples)),
        np.empty(n_samples), np.empty(n_samples), np.empty(n_devices, dtype=np.int64),
        np.empty(most, dtype=np.int64),
        np.zeros(most, dtype=np.int64), np.empty(most),
        np.empty((2, SHORTLIST + p.width), dtype=np.int64), np.empty((n_devices, n_samples)),
        np.empty(n_samples), np.zeros(p.width + 1, dtype=np.int64),
    )  # fmt: skip


@_jit
def _plan_value(q, window, choice, keep):
    """The objective of the plan (``window``, ``choice``); with ``keep``, its task costs are
    written to ``q.latency_s`` and ``q.energy_j``. A run of positions holding the same tasks
    is looked up once."""
    p = q.p
    n_devices, n_samples = q.total_s.shape
    q.total_s[:, :] = 0.0
    q.total_j[:] = 0.0
    x = 0
    while x < p.width:
        end = x + 1
        while end < p.width and _same(window, choice, x, end):
            end += 1
        busy = False
        for n in range(n_devices):
            q.column[n] = choice[n, x]
            q.active[n] = x < window[n]
            busy |= q.active[n]
        if busy or keep:
            costs = column(p, q.store, q.column, q.active)
            for n in range(n_devices):
                for s in range(n_samples):
                    q.total_s[n, s] += (end - x) * costs[0, n, s]
                    q.total_j[s] += (end - x) * costs[1, n, s]
                    for y in range(x, end if keep else x):
                        q.latency_s[n, y, s] = costs[0, n, s]
                        q.energy_j[n, y, s] = costs[1, n, s]
        x = end
    q.added_j[:] = 0.0
    held = _mean_reward(p, q.total_s, q.zero_s, q.total_j, q.added_j, window)
    return held + lookahead(p, window)


@_jit
def _same(window, choice, x, y, skip_a=-1, skip_b=-1):
    """Whether positions ``x`` and ``y`` hold the same tasks: every device active at both with
    the same choice, or at neither (devices ``skip_a`` and ``skip_b``: only their activity)."""
    for n in range(len(window)):
        active = x < window[n]
        if active != (y < window[n]):
            return False
        if active and n != skip_a and n != skip_b and choice[n, x] != choice[n, y]:
            return False
    return True


@_jit
def plan_costs(p, store, window, choice, latency_s, energy_j):
    """Fill ``latency_s`` and ``energy_j`` [devices, W, samples] with a plan's task costs and
    return its objective."""
    q = _search(p, store, window, choice, latency_s, energy_j, False, np.inf)
    return _plan_value(q, window, choice, True)


@_jit
def _neighbourhood(p, n, current, out):
    """Options of device ``n`` near option ``current`` into ``out`` -> their count: local only;
    every cut and power on its channel and server; its cut and power on any channel, or on any
    server. From local only, the reference is device n's own channel n mod C and server n mod M
    at the least power on its first offloading cut."""
    rows = p.options[n]
    reference = current
    if current == 0:
        reference = -1
        for k in range(1, p.n_options[n]):
            own = rows[k, 1] == n % p.n_channels and rows[k, 2] == n % p.n_servers
            if own and (
                reference < 0
                or rows[k, 0] < rows[reference, 0]
                or (rows[k, 0] == rows[reference, 0] and rows[k, 3] < rows[reference, 3])
            ):
                reference = k
        reference = max(reference, 0)
    count = 0
    for k in range(p.n_options[n]):
        cut, channel = rows[k, 0] == rows[reference, 0], rows[k, 1] == rows[reference, 1]
        server, power = rows[k, 2] == rows[reference, 2], rows[k, 3] == rows[reference, 3]
        if k == 0 or (channel and server) or (cut and power and (channel or server)):
            out[count] = k
            count += 1
    return count


@_jit
def _now():
    with numba.objmode(now="float64"):
        now = time.perf_counter()
    return now


@_jit
def _sorted_union(q, d, out):
    """Device ``d``'s SHORTLIST best block choices and its current ones, ascending and
    distinct, into ``out`` -> their count."""
    head = min(SHORTLIST, q.n_ranked[d])
    count = 0
    for i in range(head + q.choice.shape[1]):
        k = q.ranked[d, i] if i < head else q.choice[d, i - head]
        at = 0
        while at < count and out[at] < k:
            at += 1
        if at < count and out[at] == k:
            continue
        for i in range(count, at, -1):
            out[i] = out[i - 1]
        out[at] = k
        count += 1
    return count


@_jit
def _grids(q, a, b, x):
    """The combinations a move of device ``a`` (and ``b`` >= 0) tries -> their count, each
    one's options in ``q.first`` and ``q.second``: every option of one device (of a device
    with more than FULL_OPTIONS, its neighbourhood at position ``x``); of a pair, each one's
    SHORTLIST best block choices and its current ones, every pair of them."""
    p = q.p
    if b < 0:
        if p.n_options[a] <= FULL_OPTIONS:
            for k in range(p.n_options[a]):
                q.first[k] = k
            return p.n_options[a]
        return _neighbourhood(p, a, q.choice[a, x], q.first)
    m = _sorted_union(q, a, q.lists[0])
    r = _sorted_union(q, b, q.lists[1])
    for i in range(m):
        for j in range(r):
            q.first[i * r + j], q.second[i * r + j] = q.lists[0, i], q.lists[1, j]
    return m * r


@_jit
def _set_column(q, a, b, x, c):
    """Position ``x``'s column with devices ``a`` (and ``b``) on combination ``c``."""
    for n in range(len(q.window)):
        q.column[n] = q.choice[n, x]
        q.active[n] = x < q.window[n]
    q.column[a] = q.first[c]
    if b >= 0:
        q.column[b] = q.second[c]


@_jit
def _best_first(values, options, count, out):
    """The SHORTLIST ``options`` of greatest ``values`` (of the first ``count``), best first
    and on ties the earlier, into ``out`` -> their count."""
    kept = 0
    for c in range(count):
        at = kept
        while at > 0 and values[c] > values[out[at - 1]]:
            at -= 1
        if at == SHORTLIST:
            continue
        for i in range(min(kept, SHORTLIST - 1), at, -1):
            out[i] = out[i - 1]
        out[at] = c
        kept = min(kept + 1, SHORTLIST)
    for i in range(kept):
        out[i] = options[out[i]]
    return kept


@_jit
def _from_held(q):
    """A candidate's sums start from what the move holds (``q.held_s``, ``q.held_j``)."""
    n_devices, n_samples = q.total_s.shape
    for n in range(n_devices):
        for s in range(n_samples):
            q.total_s[n, s] = q.held_s[n, s]
    for s in range(n_samples):
        q.total_j[s] = q.held_j[s]


@_jit
def _hold(q, width):
    """``q.held_s`` and ``q.held_j``: the plan's costs at the positions from ``width`` on."""
    n_devices, _, n_samples = q.latency_s.shape
    q.held_s[:, :] = 0.0
    q.held_j[:] = 0.0
    for x in range(width, q.p.width):
        for n in range(n_devices):
            for s in range(n_samples):
                q.held_s[n, s] += q.latency_s[n, x, s]
                q.held_j[s] += q.energy_j[n, x, s]


@structref.register
class _BoundsType(_Fields):
    pass


class _PairBounds(structref.StructRefProxy):
    """Upper bounds of a pair block move's candidates, so that most are not costed: a
    device's latency and energy at a position are at least those it has there alone (no
    interference lowers its rate, no other task shares its server; with one codec, energy
    grows as the rate falls), and Eq. 8 is at most -(duration + beta / N x energy) / mean
    window (the waiting term is not negative). ``floor_s`` [devices, samples] and ``floor_j``
    [samples]: the plan's costs at the positions the move leaves plus the other devices' alone
    costs at the others; ``alone_s`` and ``alone_j`` [2, options, samples]: the pair's alone
    costs per option (NaN until asked)."""


structref.define_proxy(_PairBounds, _BoundsType, ["floor_s", "floor_j", "alone_s", "alone_j"])


@_jit
def _pair_bounds(q, a, b, width):
    """``_PairBounds`` of the pair (``a``, ``b``) whose block move replaces positions below
    ``width`` (``q.held_s`` and ``q.held_j`` hold the rest)."""
    n_devices, n_samples = q.total_s.shape
    floor_s, floor_j = q.held_s.copy(), q.held_j.copy()
    for n in range(n_devices):
        if n != a and n != b:
            for x in range(min(width, q.window[n])):
                costs = _alone(q, n, q.choice[n, x])
                for s in range(n_samples):
                    floor_s[n, s] += costs[0, n, s]
                    floor_j[s] += costs[1, n, s]
    shape = (2, q.p.options.shape[1], n_samples)
    return _PairBounds(floor_s, floor_j, np.full(shape, np.nan), np.empty(shape))


@_jit
def _alone(q, d, option):
    """The costs [2, devices, samples] of a position where device ``d`` alone runs ``option``."""
    for n in range(len(q.window)):
        q.column[n] = option
        q.active[n] = n == d
    return column(q.p, q.store, q.column, q.active)


@_jit
def _bound(bounds, q, a, b, c, future):
    """An upper bound of the objective of combination ``c`` of the pair's block move."""
    n_devices, n_samples = q.total_s.shape
    options = (q.first[c], q.second[c])
    for i, d in enumerate((a, b)):
        if np.isnan(bounds.alone_s[i, options[i], 0]):
            costs = _alone(q, d, options[i])
            bounds.alone_s[i, options[i]] = costs[0, d]
            bounds.alone_j[i, options[i]] = costs[1, d]
    tasks = 0
    for n in range(n_devices):
        tasks += q.window[n]
    total = 0.0
    for s in range(n_samples):
        duration, energy = 0.0, bounds.floor_j[s]
        for n in range(n_devices):
            latency = bounds.floor_s[n, s]
            for i, d in enumerate((a, b)):
                if n == d:
                    latency += q.window[d] * bounds.alone_s[i, options[i], s]
                    energy += q.window[d] * bounds.alone_j[i, options[i], s]
            duration = max(duration, latency)
        total += _reward(duration, 0.0, 1, tasks, n_devices, energy, q.p.alpha, q.p.beta)
    return total / n_samples + future


@_jit
def _block(q, a, b):
    """The joint choice of devices ``a`` (and ``b`` >= 0), one per device for all its
    positions, the others held; a single device's choices are ranked by it. A run of positions
    holding the same tasks but theirs is looked up once per combination."""
    p = q.p
    width = q.window[a] if b < 0 else max(q.window[a], q.window[b])
    count = _grids(q, a, b, 0)
    n_devices, _, n_samples = q.latency_s.shape
    future = lookahead(p, q.window)
    _hold(q, width)
    start = 0
    for x in range(width + 1):  # q.runs[x]: the length of the run starting at x (else 0)
        if x == width or not _same(q.window, q.choice, start, x, a, b):
            if x > 0:
                q.runs[start] = x - start
            start = x
        q.runs[x] = 0
    bounds = _pair_bounds(q, a, b, width) if b >= 0 and len(p.wire_ratio) == 1 else None
    best = -np.inf
    for c in range(count):
        if _late(q):
            return False
        if bounds is not None and _bound(bounds, q, a, b, c, future) <= max(
            best, q.value + TOLERANCE
        ):
            q.values[c] = -np.inf  # cannot be the move taken
            continue
        _from_held(q)
        for x in range(width):
            if q.runs[x] == 0:
                continue
            _set_column(q, a, b, x, c)
            costs = column(p, q.store, q.column, q.active)
            for n in range(n_devices):
                for s in range(n_samples):
                    q.total_s[n, s] += q.runs[x] * costs[0, n, s]
                    q.total_j[s] += q.runs[x] * costs[1, n, s]
        q.added_j[:] = 0.0
        held = _mean_reward(p, q.total_s, q.zero_s, q.total_j, q.added_j, q.window)
        q.values[c] = held + future
        best = max(best, q.values[c])
    if b < 0 and q.ranked.shape[1] > 0:
        q.n_ranked[a] = _best_first(q.values, q.first, count, q.ranked[a])
    best = 0
    for c in range(1, count):
        if q.values[c] > q.values[best]:
            best = c
    if not q.values[best] > q.value + TOLERANCE:
        return False
    q.choice[a, :] = q.first[best]
    if b >= 0:
        q.choice[b, :] = q.second[best]
    q.value = _plan_value(q, q.window, q.choice, True)
    return True


@_jit
def _repeated(q, x):
    """Whether position ``x`` holds the same tasks as an earlier one (changing either scores
    the same)."""
    for y in range(x):  # noqa: SIM110 (compiled: no generator expressions)
        if _same(q.window, q.choice, y, x):
            return True
    return False


@_jit
def _positions(q, a, b):
    """The best change of the joint choice of devices ``a`` (and ``b``) at one position they
    all use, the others held, repeated (at most once per position) while it improves; of
    positions holding the same tasks, the first is tried."""
    p = q.p
    width = q.window[a] if b < 0 else min(q.window[a], q.window[b])
    n_devices, _, n_samples = q.latency_s.shape
    future = lookahead(p, q.window)
    improved = False
    for _ in range(width):
        best, best_x, best_c = -np.inf, -1, -1
        for x in range(width):
            if _repeated(q, x):  # the same candidates as at an earlier position
                continue
            q.total_s[:, :] = 0.0  # the plan without position x
            q.total_j[:] = 0.0
            for y in range(p.width):
                if y != x:
                    for n in range(n_devices):
                        for s in range(n_samples):
                            q.total_s[n, s] += q.latency_s[n, y, s]
                            q.total_j[s] += q.energy_j[n, y, s]
            count = _grids(q, a, b, x)
            for c in range(count):
                if _late(q):
                    return improved
                _set_column(q, a, b, x, c)
                costs = column(p, q.store, q.column, q.active)
                for s in range(n_samples):
                    q.added_j[s] = 0.0
                    for n in range(n_devices):
                        q.added_j[s] += costs[1, n, s]
                held = _mean_reward(p, q.total_s, costs[0], q.total_j, q.added_j, q.window)
                if held + future > best:
                    best, best_x, best_c = held + future, x, c
        if not best > q.value + TOLERANCE:
            break
        _grids(q, a, b, best_x)
        _set_column(q, a, b, best_x, best_c)
        costs = column(p, q.store, q.column, q.active)
        for n in range(n_devices):
            q.choice[n, best_x] = q.column[n]
            for s in range(n_samples):
                q.latency_s[n, best_x, s] = costs[0, n, s]
                q.energy_j[n, best_x, s] = costs[1, n, s]
        q.value = best
        improved = True
    return improved


@_jit
def _window(q, n):
    """Device ``n``'s window size with, at all its positions, either its current choices
    (added positions repeat its last) or any one option (of its neighbourhood, when it has
    many). Each position's costs with the device idle, and per option with it active, are
    looked up once: a window of s tasks takes the first s of the latter and the rest of the
    former."""
    p = q.p
    count = _grids(q, n, np.int64(-1), 0)
    n_devices, width, n_samples = q.latency_s.shape
    cap = p.cap[n]
    last = q.choice[n, max(q.window[n] - 1, 0)]
    idle_s = np.empty((width, n_devices, n_samples))
    idle_j = np.zeros((width, n_samples))
    q.held_s[:, :] = 0.0
    q.held_j[:] = 0.0
    q.added_j[:] = 0.0
    for x in range(width):  # every position with device n idle
        for d in range(n_devices):
            q.column[d] = q.choice[d, x]
            q.active[d] = x < q.window[d] and d != n
        costs = column(p, q.store, q.column, q.active)
        for d in range(n_devices):
            for s in range(n_samples):
                idle_s[x, d, s] = costs[0, d, s]
                idle_j[x, s] += costs[1, d, s]
                q.held_s[d, s] += costs[0, d, s]
                q.held_j[s] += costs[1, d, s]
    future = np.empty(cap + 1)
    for d in range(n_devices):
        q.trial_window[d] = q.window[d]
    for size in range(1, cap + 1):
        q.trial_window[n] = size
        future[size] = lookahead(p, q.trial_window)
    values = np.empty((cap + 1, count + 1))
    for c in range(-1, count):  # -1: its current choices
        if _late(q):
            return False
        _from_held(q)
        for size in range(1, cap + 1):
            x = size - 1  # the position a window of this size adds
            for d in range(n_devices):
                q.column[d] = q.choice[d, x]
                q.active[d] = x < q.window[d] or d == n
            if c >= 0:
                q.column[n] = q.first[c]
            elif x >= q.window[n]:
                q.column[n] = last
            costs = column(p, q.store, q.column, q.active)
            for d in range(n_devices):
                for s in range(n_samples):
                    q.total_s[d, s] += costs[0, d, s] - idle_s[x, d, s]
                    q.total_j[s] += costs[1, d, s]
            for s in range(n_samples):
                q.total_j[s] -= idle_j[x, s]
            q.trial_window[n] = size
            held = _mean_reward(p, q.total_s, q.zero_s, q.total_j, q.added_j, q.trial_window)
            values[size, c + 1] = held + future[size]
    best, best_size, best_c = -np.inf, 0, -2
    for size in range(1, cap + 1):
        for c in range(-1, count):
            if values[size, c + 1] > best:
                best, best_size, best_c = values[size, c + 1], size, c
    if not best > q.value + TOLERANCE:
        return False
    if best_c < 0:
        q.choice[n, q.window[n] : best_size] = last
    else:
        q.choice[n, :] = q.first[best_c]
    q.window[n] = best_size
    q.value = _plan_value(q, q.window, q.choice, True)
    return True


@_jit
def _late(q):
    """Whether the deadline has passed, read from the clock at every ``q.every``-th call (a
    move asks before each candidate; one that finds it late leaves the plan as it was)."""
    if q.deadline < np.inf and not q.late:
        q.calls += 1
        if q.calls % q.every == 0:
            q.late = _now() >= q.deadline
    return q.late


@_jit
def _move(q, kind, a, b):
    """One move: 0 block, 1 window, 2 positions."""
    if kind == 0:
        improved = _block(q, a, b)
    elif kind == 1:
        improved = _window(q, a)
    else:
        improved = _positions(q, a, b)
    return improved


@_jit
def descend(p, store, window, choice, latency_s, energy_j, small, windows, rounds, deadline):
    """At most ``rounds`` rounds of every move on the plan (``window``, ``choice`` and its
    costs, changed in place) -> its objective: per device its block, its window (``windows``)
    and, on ``small`` instances, its positions; then, on small instances when no single move
    improved, the block and the positions of every pair of devices; until a round improves
    nothing or the deadline passes."""
    q = _search(p, store, window, choice, latency_s, energy_j, small, deadline)
    q.value = _plan_value(q, window, choice, True)
    busy = np.flatnonzero(p.cap > 0)
    alone = np.int64(-1)  # no second device
    begun = np.empty((rounds, _plan_size(window, p.width)), dtype=np.int64)  # each round's plan
    for r in range(rounds):
        if small:  # a plan an earlier descent passed: the same moves follow, to the same end
            end = _passed(q, windows, rounds - r)
            if end >= 0:
                size = len(begun[r])
                _unflatten(store.passed[end, size : 2 * size], window, choice)
                _plan_value(q, window, choice, True)
                q.value = store.passed_value[end]
                _pass(q, begun[:r], windows, store.passed[end, 2 * size + 1])
                return q.value
            _flatten(window, choice, begun[r])
        improved = False
        for n in busy:
            for kind in range(3):
                if (kind == 1 and not windows) or (kind == 2 and not small):
                    continue
                if q.late or (q.deadline < np.inf and _now() >= q.deadline):
                    return q.value
                improved |= _move(q, kind, n, alone)
        if small and not improved and not _settled(q, False):
            for i in range(len(busy)):
                for j in range(i + 1, len(busy)):
                    for kind in range(0, 3, 2):  # block, positions
                        if q.late or (q.deadline < np.inf and _now() >= q.deadline):
                            return q.value
                        improved |= _move(q, kind, busy[i], busy[j])
            if not improved:
                _settled(q, True)
        if not improved:
            if small:
                _pass(q, begun[: r + 1], windows, 0)
            break
    return q.value


@_jit
def _plan_size(window, width):
    """Integers in a flattened plan: the windows, then the choices."""
    return len(window) * (width + 1)


@_jit
def _flatten(window, choice, out):
    n_devices, width = choice.shape
    out[:n_devices] = window
    for n in range(n_devices):
        out[n_devices + n * width : n_devices + (n + 1) * width] = choice[n]


@_jit
def _unflatten(flat, window, choice):
    n_devices, width = choice.shape
    window[:] = flat[:n_devices]
    for n in range(n_devices):
        choice[n] = flat[n_devices + n * width : n_devices + (n + 1) * width]


@_jit
def _passed(q, windows, rounds_left):
    """The row of ``store.passed`` holding the plan as it is, with the same moves (``windows``)
    and at most ``rounds_left`` rounds to its end; -1 if none. The moves of a round depend on
    the plan only (and the store, which changes how fast, not what), so the descent would
    retrace that one."""
    store, size = q.store, _plan_size(q.window, q.p.width)
    for i in range(store.n_passed):
        row = store.passed[i]
        moves = row[2 * size] == windows and row[2 * size + 1] <= rounds_left
        if moves and _holds_plan(row, q.window, q.choice):
            return i
    return -1


@_jit
def _holds_plan(flat, window, choice):
    """Whether ``flat`` begins with the plan (``window``, ``choice``) as ``_flatten`` writes it."""
    n_devices, width = choice.shape
    for n in range(n_devices):
        if flat[n] != window[n]:
            return False
        for x in range(width):
            if flat[n_devices + n * width + x] != choice[n, x]:
                return False
    return True


@_jit
def _pass(q, begun, windows, after):
    """Keep the plans ``begun`` (each round's first, in order) of a descent that ends at the
    plan as it is, ``after`` rounds past them: each with the rounds it takes from there."""
    store, size = q.store, _plan_size(q.window, q.p.width)
    for r in range(len(begun)):
        if store.n_passed == len(store.passed):
            return
        row = store.passed[store.n_passed]
        row[:size] = begun[r]
        _flatten(q.window, q.choice, row[size : 2 * size])
        row[2 * size] = windows
        row[2 * size + 1] = len(begun) - r + after
        store.passed_value[store.n_passed] = q.value
        store.n_passed += 1


@_jit
def _settled(q, add):
    """Whether the plan is one of the store's settled ones (``add``: make it one). Its pair
    moves' outcome depends on the plan only: the single moves of the round before ran on it
    unchanged, so each device's ranked block choices are the plan's."""
    store = q.store
    for i in range(store.n_settled):
        if _holds_plan(store.settled[i], q.window, q.choice):
            return True
    if add and store.n_settled < len(store.settled):
        _flatten(q.window, q.choice, store.settled[store.n_settled])
        store.n_settled += 1
    return False
