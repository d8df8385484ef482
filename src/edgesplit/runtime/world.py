"""The controller's world model: the scenario re-targeted to the live hosts and its env, read and
advanced through a small API (``step``: observe what the agents measured, decide, predict), so
that the controller never writes the env's attributes.

Slot style (shi2025), every slot:
1. observe: arrivals and batteries from the model, each device's uplink as its agent measured
   it (the model's own draw, a prior, before the agent has measured anything), the servers
   that answer;
2. decide: ``policy.decide`` (a learner trained on the preset sees the preset's units; the live
   server's threads come from its allocator), then hysteresis against the last decision *the
   policy* made (a decision forced by an outage never becomes the one to keep), then a
   least-expected-completion server per offloading device;
3. predict: the slot through the cost model at the measured rates (``slot_step`` in the env).

Task-window style (zhang2026): the policy's window, cut, channel, server and power per task;
tasks meant for a server that does not answer go to the healthy one with the fewest of this
window's tasks (or stay on the device when none answers). The radio is emulated: each task's
rate follows from the decision through Eq. 1 (power, channel, interference), which the model
computes and the agent's shaper applies on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgesplit.contract import SLOT_FIELDS, WINDOW_FIELDS, Decision, SlotState
from edgesplit.costs.tables import exit_option_name
from edgesplit.costs.terms import server_work_s
from edgesplit.policies.threads import make_allocator
from edgesplit.policies.window import least_expected_completion
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.slot import SlotSystem, allocate_threads, cut_rows, slot_step
from edgesplit.sim.slot_env import SlotMECEnv
from edgesplit.sim.window_env import TaskWindowMECEnv

# what each task's prediction holds, and what the energy model of a measured task needs
PREDICTED = ("local_s", "transmit_s", "queue_s", "server_s", "latency_s", "energy_j")
ENERGY_FIELDS = ("compute_power_w", "transmit_power_w", "device_macs", "energy_per_mac_j")


@dataclass(frozen=True)
class PlannedTask:
    """One task as decided and predicted."""

    cut: int
    threads: int
    server: int  # index among the run's servers (-1: none, the cut is all local)
    codec: str
    power_w: float
    radio_rate_bps: float  # the emulated radio's rate (task windows); 0: a real or shaped link
    predicted: dict[str, float]  # PREDICTED and ENERGY_FIELDS
    exit: str = ""  # an early exit at the cut (costs.tables' option rows); "": none
    exit_threshold: float = 0.0


def exit_label(task: PlannedTask) -> str:
    """A task's early exit as NAME@THRESHOLD ("" for none)."""
    return exit_option_name(task.exit, task.exit_threshold) if task.exit else ""


def runtime_task(table: Any, row: int, codec: str) -> dict[str, Any]:
    """What the runtime runs for row ``row`` of a device's cost table: its cut on the model's
    graph, and the codec (a bottleneck's, else ``codec``) and early exit of a learned option."""
    bottleneck, exit_name, threshold = table.learned_run(row)
    return {
        "cut": table.cut_of(row),
        "codec": f"bottleneck:{bottleneck}" if bottleneck else codec,
        "exit": exit_name,
        "exit_threshold": threshold,
    }


@dataclass(frozen=True)
class StepPlan:
    """One step: each device's tasks, the spacing of their arrivals, the decision's record."""

    tasks: list[list[PlannedTask]]
    spacing_s: list[float]
    why: str
    record: dict[str, Any]


def server_loads(
    world: SlotSystem,
    cuts: np.ndarray,
    threads: np.ndarray,
    arrivals: np.ndarray,
    busy_s: list[float],
) -> np.ndarray:
    """Least expected completion: each offloading device (most work first) goes to the server
    whose queued and assigned tail work (seconds this slot) is least. ``busy_s`` holds each
    healthy server's current backlog; returns the server per device (-1: nothing offloaded)."""
    work = server_work_s(arrivals, world.tail_s[cut_rows(world, cuts), threads])
    offloading = np.flatnonzero(cuts < world.n_cuts - 1)
    chosen = np.full(len(cuts), -1)
    same_everywhere = np.repeat(work[offloading, None], len(busy_s), axis=1)  # identical servers
    chosen[offloading] = least_expected_completion(same_everywhere, np.asarray(busy_s))
    return chosen


def keep_cuts(
    world: SlotSystem,
    state: SlotState,
    previous: tuple[np.ndarray, np.ndarray] | None,
    decided: tuple[np.ndarray, np.ndarray],
    margin: float,
) -> tuple[tuple[np.ndarray, np.ndarray], bool]:
    """Hysteresis: the previous slot's cuts (with ``previous``'s threads re-allocated for this
    slot) stay unless the decided cuts and threads raise the slot's utility (Eq. 10, on the
    observed state) by more than ``margin`` of its size, so that cuts of near-equal value do
    not flap. Returns the cuts and threads to run, and whether the previous ones were kept."""
    if previous is None or margin <= 0 or np.array_equal(previous[0], decided[0]):
        return decided, False

    def utility(candidate: tuple[np.ndarray, np.ndarray]) -> float:
        cuts, threads = candidate
        return slot_step(
            world, state.battery_j, cuts, threads, state.arrivals, state.uplink_bps,
            state.uplink_bps, 0.0,
        ).reward  # fmt: skip

    new, old = utility(decided), utility(previous)
    if old >= new - margin * abs(new):
        return previous, True
    return decided, False


class SlotWorld:
    """shi2025's slots as the controller models them (see the module notes)."""

    def __init__(
        self,
        preset: Scenario,
        scenario: Scenario,
        policy: Any,
        learner: bool,
        hysteresis: float,
        seed: int,
    ) -> None:
        self.preset, self.scenario, self.policy = preset, scenario, policy
        self.learner, self.hysteresis = learner, hysteresis
        self.env = SlotMECEnv(scenario)
        self.system = self.env.system
        self.cores = scenario.servers[0].threads[1]
        self.allocator = make_allocator(getattr(policy, "allocator_name", "utility"), self.system)
        self.previous: np.ndarray | None = None  # the cuts the policy last decided
        self.env.reset(seed=seed)

    @property
    def cut_counts(self) -> list[int]:
        """Each device's model's cuts (what its agent's graph has; its table may hold learned
        options besides)."""
        return [self.system.tables[t].cut_count for t in self.system.table_of]

    def observe(self, measured_bps: list[float | None]) -> SlotState:
        """The slot's state: the model's arrivals and batteries, each device's measured uplink
        (the model's own draw, a prior, where the agent has measured nothing yet)."""
        prior = self.env.uplink_bps
        seen = np.array([p if m is None else m for p, m in zip(prior, measured_bps, strict=True)])
        self.env.set_link_rates(seen)
        return SlotState(self.env.arrivals.copy(), self.env.battery_j.copy(), seen, self.cores)

    def decide(self, state: SlotState, up: list[int]) -> tuple[np.ndarray, np.ndarray, str]:
        """Cuts and threads for the slot, and what decided them."""
        system = self.system
        if not up:  # forced: not the policy's, so never the decision hysteresis keeps
            cuts = system.n_cuts - 1
            why = "no server answers: all local"
            return cuts, allocate_threads(system, state, cuts, self.allocator), why
        observation = state
        if self.learner:  # the preset's units: arrivals per its slot, its server's threads
            preset_threads = self.preset.servers[0].threads
            observation = SlotState(
                state.arrivals * self.preset.slot_s / self.scenario.slot_s, state.battery_j,
                state.uplink_bps, preset_threads[1] if preset_threads else 1,
            )  # fmt: skip
        decision = self.policy.decide(observation.encode())
        cuts = np.asarray(decision.cut, dtype=np.int64)
        if self.learner or decision.threads is None:  # threads for this server
            threads = allocate_threads(system, state, cuts, self.allocator)
        else:
            threads = np.asarray(decision.threads, dtype=np.int64)
        before = None
        if self.previous is not None:
            before = (self.previous, allocate_threads(system, state, self.previous, self.allocator))
        (cuts, threads), kept = keep_cuts(system, state, before, (cuts, threads), self.hysteresis)
        self.previous = cuts
        return cuts, threads, "kept (hysteresis)" if kept else "policy"

    def step(
        self, up: list[int], backlog_s: list[float], measured_bps: list[float | None]
    ) -> StepPlan:
        """Observe, decide and predict one slot; advance the model (batteries, arrivals)."""
        system, env = self.system, self.env
        state = self.observe(measured_bps)
        cuts, threads, why = self.decide(state, up)
        chosen = server_loads(system, cuts, threads, state.arrivals, backlog_s) if up else None
        server = np.full(len(cuts), -1) if chosen is None else np.array(
            [up[s] if s >= 0 else -1 for s in chosen]
        )  # fmt: skip
        counts = np.rint(env.arrivals).astype(int)
        info = env.step(Decision(cut=cuts, threads=threads).as_action(SLOT_FIELDS))[-1]
        codecs = [system.link.codecs[c] for c in info["codec"]]  # the fastest at each rate
        tasks, runs = [], []
        for n in range(len(cuts)):
            predicted = {name: float(info[name][n]) for name in PREDICTED[:-1]}
            predicted["energy_j"] = float(info["task_energy_j"][n])
            predicted.update(
                compute_power_w=float(system.compute_power_w[n]),
                transmit_power_w=float(system.transmit_power_w[n]),
                device_macs=float(system.device_macs[system.row_offset[n] + cuts[n]]),
                energy_per_mac_j=float(system.energy_per_mac_j[n]),
            )
            run = runtime_task(system.tables[system.table_of[n]], int(cuts[n]), codecs[n])
            task = PlannedTask(
                run["cut"], int(threads[n]), int(server[n]), run["codec"],
                float(system.transmit_power_w[n]), 0.0, predicted, run["exit"],
                run["exit_threshold"],
            )  # fmt: skip
            tasks.append([task] * int(counts[n]))
            runs.append(task)
        record = {
            "why": why,
            "cut": [t.cut for t in runs],  # on the model's graph (a table row may be an option)
            "threads": threads.tolist(),
            "server": server.tolist(),
            "codec": [t.codec for t in runs],
            "exit": [exit_label(t) for t in runs],
            "observed_uplink_bps": state.uplink_bps.tolist(),
            "tasks": counts.tolist(),
        }
        spacing = [self.scenario.slot_s / max(int(c), 1) for c in counts]
        return StepPlan(tasks, spacing, why, record)

    def adopt(self, other: SlotWorld) -> None:
        """Continue where ``other`` (the same run predicted from other profiles) is: its
        batteries, arrivals, random stream and the cuts its policy last decided."""
        self.env.set_state(other.env.get_state())
        self.previous = other.previous

    @property
    def finished(self) -> bool:
        return False  # slots run until the time is up

    def not_dispatched(self) -> int:
        return 0


class WindowWorld:
    """zhang2026's task windows as the controller models them (see the module notes)."""

    def __init__(self, scenario: Scenario, policy: Any, seed: int) -> None:
        self.scenario, self.policy = scenario, policy
        self.env = TaskWindowMECEnv(scenario)
        self.system = self.env.system
        self.env.reset(seed=seed)

    @property
    def cut_counts(self) -> list[int]:
        """Each device's model's cuts (its tables may hold learned options besides)."""
        tables = self._tables_by_offset()
        return [tables[int(offset)].cut_count for offset in self.system.row_offset[:, 0]]

    def _tables_by_offset(self) -> dict[int, Any]:
        """The cost tables by their first stacked row."""
        starts = np.cumsum([0] + [t.n_cuts for t in self.system.tables])[:-1]
        return dict(zip(starts.tolist(), self.system.tables, strict=True))

    def adopt(self, other: WindowWorld) -> None:
        """Continue where ``other`` (the same run predicted from other profiles) is: the tasks
        left, the channels and the random stream."""
        self.env.set_state(other.env.get_state())

    @property
    def finished(self) -> bool:
        return not self.env.remaining.any()

    def not_dispatched(self) -> int:
        return int(self.env.remaining.sum())

    def step(
        self, up: list[int], backlog_s: list[float], measured_bps: list[float | None]
    ) -> StepPlan:
        """Decide a window for every device, move tasks off servers that do not answer,
        predict, advance the model."""
        system, env = self.system, self.env
        decision = self.policy.decide(env.observation())
        window = np.minimum(decision.window, env.remaining)
        cut, server = decision.cut.copy(), decision.server.copy()
        active = np.arange(cut.shape[1])[None, :] < window[:, None]
        offloaded = active & (cut < system.n_cuts[:, None] - 1)
        why = "policy"
        if not up:
            cut[offloaded] = np.broadcast_to(system.n_cuts[:, None] - 1, cut.shape)[offloaded]
            why = "no server answers: all local"
        elif offloaded[~np.isin(server, up)].any():
            load = {s: int((offloaded & (server == s)).sum()) for s in up}
            for n, k in zip(*np.nonzero(offloaded & ~np.isin(server, up)), strict=True):
                server[n, k] = best = min(load, key=load.get)
                load[best] += 1
            why = "policy; tasks of servers that do not answer moved"
        chosen = Decision(
            cut=cut, window=decision.window, channel=decision.channel, server=server,
            power_w=decision.power_w,
        )  # fmt: skip
        info = env.step(chosen.as_action(WINDOW_FIELDS))[-1]
        power = info["task_power_w"]  # as the radio took it
        tables = self._tables_by_offset()
        tasks = []
        for n in range(len(window)):
            row = []
            for k in range(int(info["window"][n])):
                local = cut[n, k] == system.n_cuts[n] - 1
                predicted = {
                    "local_s": float(info["task_local_s"][n, k]),
                    "transmit_s": float(info["task_transmit_s"][n, k]),
                    "queue_s": 0.0,
                    "server_s": float(info["task_server_s"][n, k]),
                    "latency_s": float(info["task_latency_s"][n, k]),
                    "energy_j": float(info["task_energy_j"][n, k]),
                    "compute_power_w": float(system.compute_power_w[n]),
                    "transmit_power_w": float(power[n, k]),
                    "device_macs": float(
                        system.device_macs[system.row_offset[n, server[n, k]] + cut[n, k]]
                    ),
                    "energy_per_mac_j": float(system.energy_per_mac_j[n]),
                }
                table = tables[int(system.row_offset[n, max(int(server[n, k]), 0)])]
                run = runtime_task(
                    table, int(cut[n, k]), system.link.codecs[int(info["task_codec"][n, k])]
                )
                row.append(
                    PlannedTask(
                        run["cut"],
                        0,
                        -1 if local else int(server[n, k]),
                        run["codec"],
                        float(power[n, k]),
                        0.0 if local else float(info["task_rate_bps"][n, k]),
                        predicted,
                        run["exit"],
                        run["exit_threshold"],
                    )
                )
            tasks.append(row)
        record = {
            "why": why,
            "cut": [[t.cut for t in row] for row in tasks],
            "server": [[t.server for t in row] for row in tasks],
            "codec": [[t.codec for t in row] for row in tasks],
            "exit": [[exit_label(t) for t in row] for row in tasks],
            "rate_bps": [[t.radio_rate_bps for t in row] for row in tasks],
            "tasks": [len(row) for row in tasks],
            "remaining": env.remaining.tolist(),
        }
        return StepPlan(tasks, [0.0] * len(tasks), why, record)
