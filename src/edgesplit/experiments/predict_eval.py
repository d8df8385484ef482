"""How well each predictor predicts heads and tails it was not fitted on (shi2025 Table II on our
data), and shi2025's Observations 1 and 2 checked on measured profiles.

Protocol: every predictor is fitted on the whole-model and per-node measurements at
``train_threads`` only; head and tail measurements are never used for fitting, so every cut is
held out, and the scored pairs are (cut, threads) with threads outside ``train_threads`` when the
profile has such thread counts (else all measured thread counts: then only the cuts are held out).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from edgesplit.errors import ProfileError
from edgesplit.graph import ModelGraph
from edgesplit.profile.catalogue import hardware_profile
from edgesplit.profile.data import Profile, load_profile_file
from edgesplit.profile.predictors import (
    PREDICTORS,
    eq7_latency_s,
    fit_eq7,
    fit_predictor,
)


@cache
def paper_results() -> dict[str, Any]:
    """Published numbers the evaluations compare with (package data ``paper_results.json``)."""
    return json.loads(resources.files("edgesplit.data").joinpath("paper_results.json").read_text())


@dataclass(frozen=True)
class Pair:
    """One held-out measurement and each predictor's prediction of it."""

    side: str  # "head" or "tail"
    cut: str  # fx-level device mask (hex)
    threads: int
    measured_s: float
    predicted_s: dict[str, float]


@dataclass(frozen=True)
class Evaluation:
    """All held-out pairs of one model and profile, with the scores per predictor."""

    model: str
    train_threads: tuple[int, ...]
    test_threads: tuple[int, ...]
    pairs: tuple[Pair, ...]
    noise_floor_ms: float | None

    def rmse_ms(self, predictor: str) -> float:
        errors = [p.predicted_s[predictor] - p.measured_s for p in self.pairs]
        return float(np.sqrt(np.mean(np.square(errors))) * 1e3)

    def mape_pct(self, predictor: str) -> float:
        errors = [abs(p.predicted_s[predictor] - p.measured_s) / p.measured_s for p in self.pairs]
        return float(np.mean(errors) * 100)


def side_mask(n: int, cut_key: str, side: str) -> np.ndarray:
    """Boolean mask over the fx nodes run by ``side`` of the cut with this key."""
    device = int(cut_key, 16)
    on_device = np.array([bool(device >> i & 1) for i in range(n)])
    return on_device if side == "head" else ~on_device


def evaluate(
    profile: Profile,
    graph: ModelGraph,
    train_threads: Sequence[int],
    predictors: Sequence[str] = PREDICTORS,
) -> Evaluation:
    """Fit each predictor at ``train_threads`` and predict every measured head and tail."""
    train = tuple(sorted(train_threads))
    held_out = tuple(k for k in sorted(profile.cpu) if k not in train)
    test = held_out or train
    fitted = {name: fit_predictor(name, profile, graph, train) for name in predictors}
    n = len(profile.node_order)
    pairs = []
    for k in test:
        predicted = {name: f.fx_latency_s(graph, k) for name, f in fitted.items()}
        measured = profile.cpu[k]
        for side, table in (("head", measured.head), ("tail", measured.tail)):
            for key, stats in table.items():
                mask = side_mask(n, key, side)
                if not mask.any():
                    continue  # an empty half (the identity head or tail) takes no time to predict
                pairs.append(
                    Pair(
                        side=side,
                        cut=key,
                        threads=k,
                        measured_s=stats.median_s,
                        predicted_s={
                            name: float(lat[mask].sum()) for name, lat in predicted.items()
                        },
                    )
                )
    return Evaluation(profile.model, train, test, tuple(pairs), noise_floor_ms(profile))


def noise_floor_ms(profile: Profile) -> float | None:
    """The scatter of the measurements themselves: for every timed head and tail, the residual
    of a three-parameter fit ``a + b/k + c k`` over all its thread counts (fitted on the very
    points it is scored on, so it understates the noise). None with fewer than 5 thread counts."""
    threads = np.array(sorted(profile.cpu), dtype=float)
    if len(threads) < 5:
        return None
    design = np.stack([np.ones_like(threads), 1 / threads, threads], axis=1)
    residuals = []
    for side in ("head", "tail"):
        keys = set.intersection(*(set(getattr(profile.cpu[int(k)], side)) for k in threads))
        for key in keys:
            y = np.array([getattr(profile.cpu[int(k)], side)[key].median_s for k in threads])
            coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
            residuals.extend(design @ coefficients - y)
    return float(np.sqrt(np.mean(np.square(residuals))) * 1e3) if residuals else None


# -- shi2025 Observations 1 and 2 ----------------------------------------------------------------


@dataclass(frozen=True)
class Observation1:
    """Whole-model latency against threads, and the Eq. 7 fit over all thread counts."""

    model: str
    threads: tuple[int, ...]
    latency_s: tuple[float, ...]
    eq7: tuple[float, float, float, float]
    speedup: dict[int, float]  # latency(1) / latency(k)
    gains_shrink: float  # share of successive marginal gains (fitted curve) that shrink

    def fitted_s(self, k: np.ndarray) -> np.ndarray:
        return eq7_latency_s(k, *self.eq7)


def observation1(profile: Profile) -> Observation1:
    """shi2025 Observation 1: latency falls with threads, by less and less."""
    threads = tuple(sorted(profile.cpu))
    latency = tuple(profile.cpu[k].whole.median_s for k in threads)
    eq7 = fit_eq7(np.array(threads, float), np.array(latency))
    curve = eq7_latency_s(np.arange(threads[0], threads[-1] + 1, dtype=float), *eq7)
    gains = -np.diff(curve)
    shrink = float(np.mean(np.diff(gains) <= 1e-12)) if len(gains) > 1 else 1.0
    speedup = {k: latency[0] / latency[i] for i, k in enumerate(threads)}
    return Observation1(profile.model, threads, latency, eq7, speedup, shrink)


@dataclass(frozen=True)
class Observation2:
    """Tail latency / whole latency against the share of the model on the server."""

    model: str
    threads: int
    node_share: tuple[float, ...]  # shi2025's partition proportion: share of nodes
    mac_share: tuple[float, ...]
    ratio: tuple[float, ...]

    def r2(self, against: str) -> float:
        """Coefficient of determination of the line ratio = share (Eq. 8)."""
        x = np.array(self.node_share if against == "nodes" else self.mac_share)
        y = np.array(self.ratio)
        return float(1 - np.sum((y - x) ** 2) / np.sum((y - y.mean()) ** 2))


def observation2(profile: Profile, graph: ModelGraph, threads: int) -> Observation2:
    """shi2025 Observation 2 at one thread count: is the latency ratio the partition share?"""
    measured = profile.cpu[threads]
    n = len(profile.node_order)
    flops = np.array([graph.records[name].flops for name in profile.node_order], dtype=float)
    node_share, mac_share, ratio = [], [], []
    for key, stats in sorted(measured.tail.items(), key=lambda kv: int(kv[0], 16)):
        server = side_mask(n, key, "tail")
        node_share.append(server.mean())
        mac_share.append(flops[server].sum() / flops.sum())
        ratio.append(stats.median_s / measured.whole.median_s)
    return Observation2(profile.model, threads, tuple(node_share), tuple(mac_share), tuple(ratio))


# -- the predict-eval report -----------------------------------------------------------------------


@dataclass(frozen=True)
class PredictEvalReport:
    """Held-out prediction scores, Observation 1 and Observation 2 for several models."""

    hardware: str
    predictors: tuple[str, ...]
    evaluations: tuple[Evaluation, ...]
    observation1: tuple[Observation1, ...]
    observation2: tuple[Observation2, ...]

    def records(self) -> dict[str, list[dict[str, Any]]]:
        """The report as plain data: scores (one row per model and predictor, with shi2025
        Table II's published RMSE where it has one), Observation 1 and Observation 2 rows."""
        published = paper_results()["shi2025_table2"]["rmse_ms"]
        scores = [
            {
                "model": ev.model,
                "predictor": name,
                "rmse_ms": ev.rmse_ms(name),
                "mape_pct": ev.mape_pct(name),
                "pairs": len(ev.pairs),
                "noise_floor_ms": ev.noise_floor_ms,
                "paper_rmse_ms": published.get(name, {}).get(ev.model),
            }
            for ev in self.evaluations
            for name in self.predictors
        ]
        first = [
            {"model": o.model, "speedup": o.speedup, "eq7": o.eq7, "gains_shrink": o.gains_shrink}
            for o in self.observation1
        ]
        second = [
            {
                "model": o.model,
                "threads": o.threads,
                "r2_node_share": o.r2("nodes"),
                "r2_mac_share": o.r2("macs"),
            }
            for o in self.observation2
        ]
        return {"scores": scores, "observation1": first, "observation2": second}


def predict_eval(
    models: Sequence[str],
    hardware: str,
    train_threads: Sequence[int],
    predictors: Sequence[str] = PREDICTORS,
) -> PredictEvalReport:
    """Evaluate the predictors on catalogue entry ``hardware``'s CPU profiles of ``models``, or,
    where a model is a profile file (``name.json``), on that file (its model named inside)."""
    from edgesplit.graph.zoo import load_model, random_input

    evaluations, first, second = [], [], []
    for source in models:
        if source.endswith(".json"):
            profile = load_profile_file(source)
        else:
            profile, _ = hardware_profile(hardware, source)
        name = profile.model
        if len(profile.cpu) < 2:
            raise ProfileError(
                f"{source}: the {name} profile has {len(profile.cpu)} CPU thread count(s); "
                "scoring predictors needs at least two (profile --threads 1,2)"
            )
        graph = ModelGraph.from_module(
            load_model(name), random_input(profile.input_shape), "fx", model_name=name
        )
        profile.check_matches(name, tuple(n.name for n in graph.nodes), graph.input_shapes[0])
        evaluations.append(evaluate(profile, graph, train_threads, predictors))
        first.append(observation1(profile))
        for k in sorted({min(profile.cpu), max(profile.cpu)}):
            second.append(observation2(profile, graph, k))
    return PredictEvalReport(
        hardware, tuple(predictors), tuple(evaluations), tuple(first), tuple(second)
    )
