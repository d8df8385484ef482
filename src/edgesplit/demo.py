"""The partition demo (`edgesplit demo`): plan three models over Wi-Fi and 5G for two
device-server pairs of the hardware catalogue (latencies from measured or derived profiles), then
really run each chosen split in-process and check it against the unsplit model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from torch import nn

from edgesplit.graph import ModelGraph
from edgesplit.graph.split import SplitCheck, check_split
from edgesplit.graph.zoo import build_model, example_input
from edgesplit.plan import (
    CutCosts,
    Plan,
    Setting,
    SideSpec,
    cost_terms,
    evaluate,
    plan,
    plan_defaults,
    resolve_setting,
)


@dataclass(frozen=True)
class DemoResult:
    """One model, link and device: the plan, the best split that keeps work on both sides (for
    comparison), and the in-process checks of both."""

    model: str
    link: str
    pair: str  # the pair's label in plan_defaults.json
    plan: Plan
    best_interior: CutCosts
    check: SplitCheck
    interior_check: SplitCheck

    def record(self) -> dict:
        """The result as plain data (SI units)."""
        return {
            "model": self.model,
            "link": self.link,
            "pair": self.pair,
            **self.plan.record(),
            "best_interior": self.best_interior.record(),
            "split_check": asdict(self.check),
            "best_interior_check": asdict(self.interior_check),
        }


def run_demo(seed: int = 0, progress: Callable[[str], None] | None = None) -> list[DemoResult]:
    """Run the demo with the settings in package data (``plan_defaults.json``)."""
    defaults = plan_defaults()
    settings = defaults["demo"]
    results = []
    for name in settings["models"]:
        if progress:
            progress(f"tracing {name}")
        model = build_model(name, seed=seed)
        x = example_input(name, seed=seed)
        graph = ModelGraph.from_module(model, x, model_name=name)
        checks: dict[int | None, SplitCheck] = {}  # each distinct cut is run once

        graph.cut_table()  # enumerated once: plans then carry cut indices
        for pair in settings["pairs"]:
            device = SideSpec(pair["device"], pair.get("device_threads"))
            server = SideSpec(pair["server"], pair.get("server_threads"))
            for link, rate_bps in settings["links"].items():
                if progress:
                    progress(f"planning {name} over {link}: {pair['device']} -> {pair['server']}")
                setting, _ = resolve_setting(name, rate_bps, device, server)
                chosen = plan(graph, setting, settings["objective"])
                interior = best_interior_cut(graph, setting, settings["objective"])
                results.append(
                    DemoResult(
                        model=name,
                        link=link,
                        pair=pair["label"],
                        plan=chosen,
                        best_interior=interior,
                        check=_checked(checks, model, graph, chosen.best, x),
                        interior_check=_checked(checks, model, graph, interior, x),
                    )
                )
    return results


def _checked(
    cache: dict[int | None, SplitCheck], model: nn.Module, graph: ModelGraph, costs: CutCosts, x
) -> SplitCheck:
    if costs.cut.index not in cache:
        cache[costs.cut.index] = check_split(model, graph, costs.cut, x)
    return cache[costs.cut.index]


def best_interior_cut(graph: ModelGraph, setting: Setting, objective: str) -> CutCosts:
    """The cheapest cut that runs at least one node on each side (by scanning the cut table)."""
    beta = plan_defaults()["beta_s_per_j"]
    terms = cost_terms(graph, setting)
    table = graph.cut_table()
    values = terms.objective(objective, beta).over(table)
    values[[0, table.size - 1]] = np.inf
    return evaluate(terms, table.cut(int(np.argmin(values))), objective, beta)
