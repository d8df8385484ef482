"""The links a run's devices really have, as nature draws them: the scenario's rate model
(uniform draws, trace replay, UMi) sampled once per slot from a seed of its own, with the
``slow-link`` caps of the faults. The controller never sees this: on loopback the agents' token
buckets follow it (``LinkPlan.rate_bps``), on the testbed the kernel's shapers do, and the
report sets it beside what the agents measured."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgesplit.sim.scenario import Scenario
from edgesplit.sim.slot_env import scenario_rates

LINK_STREAM = 0x11AC  # the links' own random stream (arrivals and the model's draws are others)


@dataclass(frozen=True)
class LinkPlan:
    """Per device, one uplink rate per period of ``period_s`` from the run's first step (the
    last rate holds after the plan ends)."""

    period_s: float
    rates_bps: tuple[tuple[float, ...], ...]  # [device][period]

    def rate_bps(self, device: int, elapsed_s: float) -> float:
        rates = self.rates_bps[device]
        return rates[min(max(int(elapsed_s // self.period_s), 0), len(rates) - 1)]

    def record(self) -> dict:
        return {"period_s": self.period_s, "rates_bps": [list(r) for r in self.rates_bps]}

    @classmethod
    def from_record(cls, data: dict) -> LinkPlan:
        return cls(float(data["period_s"]), tuple(tuple(map(float, r)) for r in data["rates_bps"]))


def link_plan(
    scenario: Scenario,
    seed: int,
    periods: int,
    caps: tuple[tuple[float, float], ...] = (),
    steps: tuple[tuple[float, int, float], ...] = (),
) -> LinkPlan:
    """The uplink of each of ``scenario``'s devices over ``periods`` slots, drawn by its rate
    model with the seed's own link stream; ``caps``: (from s, rate_bps) every device's rate is
    capped from the slot after; ``steps``: (from s, device, rate_bps) that device's rate is set
    from the slot after."""
    rates_model = scenario_rates(scenario)
    generator = np.random.default_rng([seed, LINK_STREAM])
    n = scenario.device_count
    rates = np.array([rates_model.draw(generator, slot, n)[0] for slot in range(periods)])
    for at_s, cap_bps in caps:
        first = _first_slot(at_s, scenario.slot_s)
        rates[first:] = np.minimum(rates[first:], cap_bps)
    for at_s, device, rate_bps in sorted(steps):
        rates[_first_slot(at_s, scenario.slot_s) :, device] = rate_bps
    return LinkPlan(scenario.slot_s, tuple(tuple(map(float, rates[:, d])) for d in range(n)))


def _first_slot(at_s: float, slot_s: float) -> int:
    """The first slot that starts at or after ``at_s``."""
    return int(np.ceil(at_s / slot_s - 1e-9))
