"""What fixed decisions give in the presets: a sanity check of the simulator (docs/sim.md), not a
policy comparison.

    python -m edgesplit.experiments.fixed_decisions [--seed 0]

Slot presets (one episode, threads by TA through ``ThreadAllocation``): every device all local,
every device sending its input, every device at its middle cut (Eq. 19 of a = 0:
floor(S_n / 2)), and uniformly random cuts (the action space's seeded sampler). Printed: utility
per slot, mean E2E latency, energy per slot of all devices, energy violations in the episode.
zhang2026 (one episode): local only with full windows, and every task sending its input at
P_limit on sampled channels and servers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from edgesplit.policies.threads import TA
from edgesplit.sim import ThreadAllocation, make_env
from edgesplit.sim.scenario import load_scenario

SLOT_PRESETS = ("shi2025-wifi", "shi2025-5g", "chukhno2023")


def slot_episode(scenario_name: str, cuts: Callable, seed: int) -> dict[str, float]:
    """One episode with ``cuts(env) -> positions`` each slot and TA's threads."""
    env = ThreadAllocation(make_env(load_scenario(scenario_name)), TA())
    env.reset(seed=seed)
    env.action_space.seed(seed)
    utility, latency, energy = [], [], []
    while True:
        _, reward, _, truncated, info = env.step(cuts(env))
        utility.append(reward)
        latency.append(info["latency_s"].mean())
        energy.append(info["energy_j"].sum())
        if truncated:
            break
    return {
        "utility": float(np.mean(utility)),
        "latency_s": float(np.mean(latency)),
        "energy_j": float(np.mean(energy)),
        "energy_violations": info["violations"]["energy"],
    }


SLOT_DECISIONS: dict[str, Callable] = {
    "all local": lambda env: env.unwrapped.system.n_cuts - 1,
    "edge only (TA)": lambda env: np.zeros(env.unwrapped.system.n_devices, dtype=np.int64),
    "every cut at the middle (TA)": lambda env: (env.unwrapped.system.n_cuts - 1) // 2,
    "random (TA)": lambda env: env.action_space.sample(),
}


def window_episode(offload: bool, seed: int) -> float:
    """zhang2026's episode return with full windows: local only, or every task sending its
    input at P_limit on the sampled channels and servers."""
    env = make_env(load_scenario("zhang2026"))
    env.reset(seed=seed)
    env.action_space.seed(seed)
    system, total = env.system, 0.0
    while True:
        action = env.action_space.sample()
        action["window"][:] = env.scenario.window_reward.window_max
        action["cut"][:] = 0 if offload else (system.n_cuts - 1)[:, None]
        action["power_w"][:] = env.scenario.radio.max_transmit_power_w
        _, reward, terminated, _, _ = env.step(action)
        total += reward
        if terminated:
            return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| preset | " + " | ".join(SLOT_DECISIONS) + " |")
    print("|---|" + "---|" * len(SLOT_DECISIONS))
    for name in SLOT_PRESETS:
        cells = []
        for decide in SLOT_DECISIONS.values():
            r = slot_episode(name, decide, args.seed)
            cells.append(
                f"{r['utility']:.3f}, {r['latency_s'] * 1e3:.0f} ms, {r['energy_j']:.1f} J, "
                f"{r['energy_violations']}"
            )
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print(
        f"zhang2026 episode return: local only {window_episode(False, args.seed):.1f}, "
        f"every input sent at P_limit {window_episode(True, args.seed):,.0f}"
    )


if __name__ == "__main__":
    main()
