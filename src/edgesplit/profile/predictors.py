"""Latency predictors: from a profile to the latency of every graph node at any thread count.

All three are additive over nodes, so a cut's head (tail) latency is the sum over its device
(server) nodes, and they plug into the planner's min-cut unchanged:

- ``shi2025``: Eq. 7 fits the whole model's latency against threads with a two-term exponential;
  Eq. 8-9 scale it by the share of layers on each side, i.e. every node gets D(k) / N.
- ``neurosurgeon``: the baseline shi2025 compares with (Kang et al. 2017): a regression per layer
  kind from layer features (FLOPs, input and output size) to the latency of a layer measured
  alone, one per hardware configuration (thread count); a cut costs the sum of its layers'
  predictions.
- ``nodes`` (ours): every fx node's measured latency, interpolated between the measured thread
  counts linearly in 1/k (exact for Amdahl's law, t = a + b/k), times a per-k calibration that
  makes the nodes sum to the measured whole model (it removes the interpreter's per-node overhead
  and adds back what running nodes alone misses). For a GPU profile without per-node times it
  spreads the measured tail differences over the nodes between cut points.

Predictors work on fx nodes (a profile's ``node_order``); ``ProfileLatencyModel`` sums them into
the nodes of a graph at any granularity.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy.optimize import curve_fit, nnls

from edgesplit.errors import InvalidParameterError, ProfileError
from edgesplit.profile.data import Measurements, Profile
from edgesplit.vocabulary import PREDICTORS

if TYPE_CHECKING:
    from edgesplit.graph import ModelGraph


def _interpolate_inverse(threads: np.ndarray, values: np.ndarray, k: float) -> np.ndarray:
    """Piecewise-linear interpolation in x = 1/k along axis 0, extrapolated from the end
    segments and clipped at zero. ``values`` has one row per entry of ``threads`` (ascending)."""
    x = 1.0 / threads
    order = np.argsort(x)
    x, values = x[order], values[order]
    target = 1.0 / k
    if len(x) == 1:
        return values[0]
    j = int(np.clip(np.searchsorted(x, target) - 1, 0, len(x) - 2))
    weight = (target - x[j]) / (x[j + 1] - x[j])
    return np.maximum(values[j] + weight * (values[j + 1] - values[j]), 0.0)


def _check_threads(profile: Profile, threads: Sequence[int]) -> list[int]:
    missing = [k for k in threads if k not in profile.cpu]
    if missing or not threads:
        raise ProfileError(
            f"the {profile.model} profile has no CPU measurements at threads {missing or threads} "
            f"(measured: {', '.join(map(str, sorted(profile.cpu)))})"
        )
    return sorted(threads)


def _check_query(k: int, cores: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= cores:
        raise InvalidParameterError(
            "threads", k, f"an integer from 1 to {cores} (the profiled machine's cores)"
        )


# -- shi2025 Eq. 7-9 -----------------------------------------------------------------------------


def eq7_latency_s(k: np.ndarray | float, c0: float, c1: float, c2: float, c3: float):
    """shi2025 Eq. 7: whole-model latency against threads, c0 e^(c1 k) + c2 e^(c3 k)."""
    return c0 * np.exp(c1 * k) + c2 * np.exp(c3 * k)


@dataclass(frozen=True)
class Shi2025Predictor:
    """shi2025 Eq. 7 fitted to whole-model latencies; Eq. 8-9 split it evenly over the nodes."""

    coefficients: tuple[float, float, float, float]
    cores: int
    name: str = "shi2025"

    @classmethod
    def fit(cls, profile: Profile, graph: ModelGraph, threads: Sequence[int]) -> Shi2025Predictor:
        threads = _check_threads(profile, threads)
        k = np.array(threads, dtype=float)
        y = np.array([profile.cpu[t].whole.median_s for t in threads])
        return cls(fit_eq7(k, y), profile.cores)

    def whole_latency_s(self, k: int) -> float:
        _check_query(k, self.cores)
        return float(eq7_latency_s(k, *self.coefficients))

    def fx_latency_s(self, graph: ModelGraph, k: int) -> np.ndarray:
        n_fx = len(graph.fx_node_order)
        return np.full(n_fx, self.whole_latency_s(k) / n_fx)


def fit_eq7(k: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Least-squares fit of Eq. 7 in relative error, from several starting points, with bounds
    that keep both terms non-negative, the first decaying and the second nearly flat (a floor
    that may rise slowly, as oversubscribed runtimes do). Fewer than four points fit the first
    term alone (two points) or a constant (one point)."""
    if len(k) == 1:
        return (float(y[0]), 0.0, 0.0, 0.0)
    if len(k) < 4:
        slope, intercept = np.polyfit(k, np.log(y), 1)
        return (float(np.exp(intercept)), float(min(slope, 0.0)), 0.0, 0.0)
    bounds = ([0.0, -5.0, 0.0, -1.0], [np.inf, 0.0, np.inf, 0.2])
    best, best_error = None, np.inf
    for c1 in (-1.0, -0.3, -0.1):
        for share in (0.3, 0.7):
            start = [y[0] * (1 - share) * np.exp(-c1 * k[0]), c1, y[-1] * share, -0.01]
            try:
                params, _ = curve_fit(
                    eq7_latency_s, k, y, p0=start, sigma=y, bounds=bounds, maxfev=20_000
                )
            except RuntimeError:  # no convergence from this start
                continue
            error = float(np.sum(((eq7_latency_s(k, *params) - y) / y) ** 2))
            if error < best_error:
                best, best_error = params, error
    if best is None:
        raise ProfileError("shi2025 Eq. 7 did not converge on these latencies")
    return tuple(float(c) for c in best)


# -- Neurosurgeon --------------------------------------------------------------------------------


def _layer_features(graph: ModelGraph) -> tuple[np.ndarray, list[str]]:
    """Per fx node: FLOPs, input bits, output bits (the layer configuration a Neurosurgeon-style
    model sees), and the layer kind."""
    sizes = {name: r.size_bits for name, r in graph.records.items()}
    rows, kinds = [], []
    for n in graph.module.graph.nodes:
        if n.name not in graph.records or graph.records[n.name].op == "placeholder":
            continue
        record = graph.records[n.name]
        in_bits = sum(sizes.get(a.name, 0) for a in n.all_input_nodes)
        rows.append([record.flops, in_bits, record.size_bits])
        kinds.append(record.kind)
    return np.array(rows, dtype=float), kinds


def _design(features: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((len(features), 1)), features])


@dataclass(frozen=True)
class NeurosurgeonPredictor:
    """Per layer kind, non-negative least squares from layer features to the latency of the layer
    run alone; one regression per measured thread count (Neurosurgeon models one hardware
    configuration and has no notion of threads), the nearest one (in log k) serving an unseen
    thread count."""

    coefficients: dict[int, dict[str, np.ndarray]]
    scale: np.ndarray
    cores: int
    name: str = "neurosurgeon"

    MIN_SAMPLES = 4  # one per coefficient

    @classmethod
    def fit(
        cls, profile: Profile, graph: ModelGraph, threads: Sequence[int]
    ) -> NeurosurgeonPredictor:
        threads = _check_threads(profile, threads)
        features, kinds = _layer_features(graph)
        scale = np.maximum(features.max(axis=0), 1.0)
        design, kinds = _design(features / scale), np.array(kinds)
        coefficients = {}
        for k in threads:
            if profile.cpu[k].per_node_s is None:
                raise ProfileError(f"Neurosurgeon needs per-node latencies at {k} threads")
            y = np.array(profile.cpu[k].per_node_s)
            per_kind = {"*": nnls(design, y)[0]}  # pooled model for rare kinds
            for kind in set(kinds):
                rows = kinds == kind
                if rows.sum() >= cls.MIN_SAMPLES:
                    per_kind[kind] = nnls(design[rows], y[rows])[0]
            coefficients[k] = per_kind
        return cls(coefficients, scale, profile.cores)

    def fx_latency_s(self, graph: ModelGraph, k: int) -> np.ndarray:
        _check_query(k, self.cores)
        nearest = min(self.coefficients, key=lambda t: abs(np.log(t) - np.log(k)))
        model = self.coefficients[nearest]
        features, kinds = _layer_features(graph)
        design = _design(features / self.scale)
        return np.array(
            [row @ model.get(kind, model["*"]) for row, kind in zip(design, kinds, strict=True)]
        )


# -- ours: per-node thread scaling ---------------------------------------------------------------


@dataclass(frozen=True)
class NodeScalingPredictor:
    """Measured per-node latencies, interpolated in 1/k and calibrated to the whole model."""

    threads: np.ndarray
    per_node_s: np.ndarray  # [len(threads), n_fx]
    calibration: np.ndarray  # [len(threads)]
    cores: int
    name: str = "nodes"

    @classmethod
    def fit(
        cls, profile: Profile, graph: ModelGraph | None, threads: Sequence[int]
    ) -> NodeScalingPredictor:
        threads = _check_threads(profile, threads)
        rows = []
        for k in threads:
            if profile.cpu[k].per_node_s is None:
                raise ProfileError(
                    f"the {profile.model} profile has no per-node latencies at {k} threads"
                )
            rows.append(profile.cpu[k].per_node_s)
        per_node = np.array(rows)
        whole = np.array([profile.cpu[k].whole.median_s for k in threads])
        return cls(np.array(threads, float), per_node, whole / per_node.sum(axis=1), profile.cores)

    @classmethod
    def fit_gpu(cls, profile: Profile) -> NodeScalingPredictor:
        """From CUDA measurements: per-node times if measured, else the tails spread over the
        nodes between consecutive cut points (GPU kernels at batch 1 are launch-bound, so each
        node of a segment gets an equal share)."""
        cuda = profile.cuda
        if cuda is None:
            raise ProfileError(f"the {profile.model} profile has no CUDA measurements")
        per_node = (
            np.array(cuda.per_node_s)
            if cuda.per_node_s is not None
            else _spread_tails(profile, cuda)
        )
        calibration = cuda.whole.median_s / max(per_node.sum(), 1e-12)
        return cls(np.array([1.0]), per_node[None, :], np.array([calibration]), profile.cores)

    def fx_latency_s(self, graph: ModelGraph | None, k: int) -> np.ndarray:
        _check_query(k, self.cores)
        per_node = _interpolate_inverse(self.threads, self.per_node_s, k)
        factor = _interpolate_inverse(self.threads, self.calibration[:, None], k)[0]
        return factor * per_node


def _spread_tails(profile: Profile, cuda: Measurements) -> np.ndarray:
    n = len(profile.node_order)
    # A tail keyed by a prefix mask starts after its last device node.
    starts = sorted((int(key, 16).bit_length(), s.median_s) for key, s in cuda.tail.items())
    points = [(0, cuda.whole.median_s), *starts, (n, 0.0)]
    per_node = np.zeros(n)
    for (a, before), (b, after) in itertools.pairwise(points):
        if b > a:
            per_node[a:b] = max(before - after, 0.0) / (b - a)
    return per_node


# -- adapter to the planner ----------------------------------------------------------------------


class Predictor(Protocol):
    """Every predictor: fitted on a profile's CPU measurements at some thread counts, it predicts
    every fx node's latency (seconds, in the profile's node order) at ``k`` threads."""

    name: str

    def fx_latency_s(self, graph: ModelGraph, k: int) -> np.ndarray: ...


PREDICTOR_CLASSES = {
    "nodes": NodeScalingPredictor,
    "shi2025": Shi2025Predictor,
    "neurosurgeon": NeurosurgeonPredictor,
}


def fit_predictor(
    name: str, profile: Profile, graph: ModelGraph, threads: Sequence[int]
) -> Predictor:
    """Fit predictor ``name`` (``PREDICTORS``) on ``profile``'s CPU measurements at ``threads``."""
    if name not in PREDICTOR_CLASSES:
        raise InvalidParameterError("predictor", name, f"one of {', '.join(PREDICTORS)}")
    return PREDICTOR_CLASSES[name].fit(profile, graph, threads)


def group_latency_s(graph: ModelGraph, fx_latency_s: np.ndarray) -> np.ndarray:
    """Sum fx-node latencies into the graph's nodes; a constant (replicated) node is charged to
    the first node that reads it."""
    position = {name: i for i, name in enumerate(graph.fx_node_order)}
    totals = np.array(
        [sum(fx_latency_s[position[f]] for f in node.fx_nodes) for node in graph.nodes]
    )
    if graph.constants:
        group_of = {f: i for i, node in enumerate(graph.nodes) for f in node.fx_nodes}
        by_name = {n.name: n for n in graph.module.graph.nodes}
        for name in graph.constants:
            readers = sorted(group_of[u.name] for u in by_name[name].users if u.name in group_of)
            if readers:
                totals[readers[0]] += fx_latency_s[position[name]]
    return totals


@dataclass(frozen=True)
class ProfileLatencyModel:
    """A NodeLatencyModel from a profile: one predictor, one processor setting.

    ``device`` "cpu" uses the profile's CPU measurements (``fit_threads``, default all) and
    predicts at ``threads``; "cuda" uses its GPU measurements.
    """

    profile: Profile
    predictor: str = "nodes"
    device: str = "cpu"
    threads: int | None = None
    fit_threads: tuple[int, ...] | None = None
    _fitted: weakref.WeakKeyDictionary = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False
    )

    def node_latency_s(self, graph: ModelGraph) -> np.ndarray:
        """Every node's predicted latency (fitted once per graph, then cached)."""
        if graph not in self._fitted:
            self._fitted[graph] = self._predict(graph)
        return self._fitted[graph].copy()

    def _predict(self, graph: ModelGraph) -> np.ndarray:
        self.profile.check_matches(graph.model_name, graph.fx_node_order, graph.input_shapes[0])
        if self.device == "cuda":
            self._refuse_noisy("CUDA", self.profile.cuda)
            if self.predictor != "nodes":
                raise InvalidParameterError("predictor", self.predictor, "nodes for CUDA profiles")
            fitted = NodeScalingPredictor.fit_gpu(self.profile)
            return group_latency_s(graph, fitted.fx_latency_s(graph, 1))
        threads = self.threads if self.threads is not None else max(self.profile.cpu)
        fit_on = self.fit_threads or tuple(sorted(self.profile.cpu))
        for k in fit_on:
            self._refuse_noisy(f"{k}-thread", self.profile.cpu.get(k))
        fitted = fit_predictor(self.predictor, self.profile, graph, fit_on)
        return group_latency_s(graph, fitted.fx_latency_s(graph, threads))

    def _refuse_noisy(self, setting: str, measured: Measurements | None) -> None:
        """Planning with a measurement recorded as noisy would give results that look normal
        but are wrong: refuse it, saying how to mend it."""
        if measured is not None and measured.noisy:
            raise ProfileError(
                f"the {self.profile.model} profile's {setting} measurement is flagged noisy "
                f"({measured.noisy}): measure it again on an idle machine "
                f"({self.profile.command or 'edgesplit profile'})"
            )


@dataclass(frozen=True)
class VariantLatencyModel:
    """The latency of a compressed variant (``resnet34@structured-0.5``) from its base model's
    measured profile: every node's base latency times the ratio of the node's MACs in the variant
    to those in the base (the ratio of output bits for nodes without MACs). Structured pruning
    keeps the graph's nodes and shrinks their work; ``benchmarks/compress_variants.py`` measures
    how well the rule predicts the pruned models on this machine.
    """

    base: ProfileLatencyModel
    _fitted: weakref.WeakKeyDictionary = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False
    )

    @property
    def device(self) -> str:
        return self.base.device

    @property
    def threads(self) -> int | None:
        return self.base.threads

    @property
    def profile(self) -> Profile:
        return self.base.profile

    def node_latency_s(self, graph: ModelGraph) -> np.ndarray:
        if graph not in self._fitted:
            self._fitted[graph] = self._predict(graph)
        return self._fitted[graph].copy()

    def _predict(self, graph: ModelGraph) -> np.ndarray:
        from edgesplit.graph.zoo import load_traced

        base_name = graph.model_name.rpartition("@")[0]
        shape = ",".join(str(d) for d in graph.input_shapes[0])
        _, _, base_graph = load_traced(base_name, graph.granularity, input_shape=shape)
        if [n.name for n in base_graph.nodes] != [n.name for n in graph.nodes]:
            raise ProfileError(
                f"{graph.model_name} has other nodes than {base_name}: its latency cannot be "
                f"scaled from {base_name}'s profile; profile the variant itself"
            )
        work = np.array([[n.macs, n.output_bits] for n in graph.nodes], dtype=np.float64)
        base_work = np.array([[n.macs, n.output_bits] for n in base_graph.nodes], dtype=np.float64)
        ratio = np.where(
            base_work[:, 0] > 0,
            work[:, 0] / np.maximum(base_work[:, 0], 1.0),
            np.where(base_work[:, 1] > 0, work[:, 1] / np.maximum(base_work[:, 1], 1.0), 1.0),
        )
        return self.base.node_latency_s(base_graph) * ratio
