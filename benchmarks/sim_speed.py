"""Device-steps per second of the vectorized system steps against the per-device references.

    python benchmarks/sim_speed.py [--devices 3,100,1000,10000]

Slot style (shi2025): the shi2025-wifi devices replicated to N, one slot with random cuts,
threads, arrivals and rates per step; `slot_step` (NumPy over devices) against
`slot_step_reference` (a Python loop over devices), both given the same inputs. Task-window style
(zhang2026): the zhang2026 devices replicated to N, random window decisions; the reference's
interference sums are quadratic in N, so it runs up to 1,000 devices. Also the full
SlotMEC-v0 env step (with TA) for the preset's 3 devices.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from edgesplit.contract import Decision
from edgesplit.sim.reference import slot_step_reference, window_step_reference
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.slot import build_slot_system, slot_step
from edgesplit.sim.window import build_window_system, window_step


def _rate(function, devices: int, min_seconds: float) -> float:
    """Device-steps per second of ``function`` (run repeatedly for at least ``min_seconds``)."""
    runs, start = 0, time.perf_counter()
    while True:
        function()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return devices * runs / elapsed


def _replicate(scenario, devices: int, **server):
    counts = [
        devices // len(scenario.devices) + (i < devices % len(scenario.devices))
        for i in range(len(scenario.devices))
    ]
    specs = [
        d.model_copy(update={"count": c})
        for d, c in zip(scenario.devices, counts, strict=True)
        if c
    ]
    servers = [s.model_copy(update=server) for s in scenario.servers]
    return scenario.model_copy(update={"devices": specs, "servers": servers})


def slot_rates(devices: int, rng: np.random.Generator) -> tuple[float, float]:
    scenario = _replicate(
        load_scenario("shi2025-wifi"), devices, threads=None, min_threads_per_task=0
    )
    system = build_slot_system(scenario)
    n = system.n_devices
    cuts = rng.integers(0, system.n_cuts)
    threads = rng.integers(1, system.max_threads + 1, n)
    battery = rng.uniform(0, system.capacity_j)
    arrivals = rng.uniform(20, 30, n)
    rate = np.full(n, 15e6)
    args = (system, battery, cuts, threads, arrivals, rate, rate, 500.0)
    fast = _rate(lambda: slot_step(*args), n, 1.0)
    slow = _rate(lambda: slot_step_reference(*args), n, 1.0)
    return fast, slow


def window_rates(devices: int, rng: np.random.Generator) -> tuple[float, float | None]:
    scenario = _replicate(load_scenario("zhang2026"), devices)
    system = build_window_system(scenario)
    n, width = system.n_devices, scenario.window_reward.window_max
    decision = Decision(
        cut=rng.integers(0, system.n_cuts[:, None], (n, width)),
        window=rng.integers(1, width + 1, n), channel=rng.integers(0, 2, (n, width)),
        server=rng.integers(0, system.n_servers, (n, width)), power_w=rng.uniform(0, 1, (n, width)),
    )  # fmt: skip
    remaining, gain = np.full(n, 10), rng.uniform(1e-7, 1e-3, n)
    fast = _rate(lambda: window_step(system, remaining, decision, gain), n, 1.0)
    reference = (
        system, remaining, decision.window, decision.cut, decision.channel, decision.server,
        decision.power_w, gain,
    )  # fmt: skip
    slow = _rate(lambda: window_step_reference(*reference), n, 1.0) if n <= 1000 else None
    return fast, slow


def env_rate() -> float:
    """What a learner like DDP sees: SlotMEC-v0 with TA applied to the cuts (ThreadAllocation)."""
    from edgesplit.policies.threads import TA
    from edgesplit.sim import ThreadAllocation, make_env

    env = ThreadAllocation(make_env(load_scenario("shi2025-wifi")), TA())
    env.reset(seed=0)
    action = np.array([1, 2, 3])

    def step():
        _, _, _, truncated, _ = env.step(action)
        if truncated:
            env.reset()

    return _rate(step, 3, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="3,100,1000,10000")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"{'devices':>8s} {'slot vectorized':>16s} {'slot reference':>15s} {'speedup':>8s} "
        f"{'window vectorized':>18s} {'window reference':>17s} {'speedup':>8s}   (device-steps/s)"
    )
    for n in (int(x) for x in args.devices.split(",")):
        fast, slow = slot_rates(n, rng)
        wfast, wslow = window_rates(n, rng)
        wref = f"{wslow:17,.0f}" if wslow else f"{'-':>17s}"
        wspeed = f"{wfast / wslow:8.3g}" if wslow else f"{'-':>8s}"
        print(
            f"{n:8d} {fast:16,.0f} {slow:15,.0f} {fast / slow:8.3g} {wfast:18,.0f} {wref} {wspeed}",
            flush=True,
        )
    print(f"SlotMEC-v0 env step with TA (3 devices): {env_rate():,.0f} device-steps/s")


if __name__ == "__main__":
    main()
