"""Measure a model's latency on this machine: whole model, every fx node, heads and tails of cuts.

Per thread count (``torch.set_num_threads``) on the CPU, or once on a CUDA GPU (timed with
``torch.cuda.synchronize`` around every measured call): ``warmup`` untimed runs, then ``repeats``
timed ones, reported as median, min and max. Per-node latencies come from one
``torch.fx.Interpreter`` pass per repeat that times each node alone (so they include the
interpreter's per-node overhead, tens of microseconds); heads and tails are the real
``split()`` GraphModules, fed the real tensors.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import fx, nn

from edgesplit.errors import DeviceUnavailableError, InvalidParameterError
from edgesplit.graph import Cut, ModelGraph
from edgesplit.graph.split import split
from edgesplit.graph.trace import COMPUTE_OPS, normalize_inputs
from edgesplit.profile.cores import available_cores
from edgesplit.profile.data import Measurements, Profile, Stats

Progress = Callable[[str], None]


def machine_description(device: str) -> dict[str, Any]:
    """CPU model, cores, library versions and GPU of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": available_cores(),
        "torch": torch.__version__,
        "torchvision": importlib.metadata.version("torchvision"),  # not imported: it is heavy
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
    }


def check_device(device: str) -> None:
    """Raise unless ``device`` is "cpu", or "cuda" with a visible GPU (no silent fallback)."""
    if device not in ("cpu", "cuda"):
        raise InvalidParameterError("device", device, "cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA"
        raise DeviceUnavailableError(
            f"CUDA was requested but no GPU is visible (torch {torch.__version__}, built with "
            f"{built}); profile with --device cpu, or run on a machine with a GPU"
        )


def check_threads(threads: Sequence[int], cores: int) -> list[int]:
    """The thread counts, or InvalidParameterError for one outside 1..cores."""
    if not threads:
        raise InvalidParameterError("threads", list(threads), "at least one thread count")
    for k in threads:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= cores:
            raise InvalidParameterError(
                "threads", k, f"an integer from 1 to {cores} (the cores of this machine)"
            )
    return sorted(set(threads))


def select_cuts(graph: ModelGraph, spec: str | int) -> list[Cut]:
    """``"all"`` cuts, ``"single"`` (one tensor crosses), or N evenly spaced (ends included)."""
    cuts = graph.cuts()
    if spec == "all":
        return cuts
    if spec == "single":
        return [c for c in cuts if len(c.crossing) == 1]
    if isinstance(spec, bool) or not isinstance(spec, int) or spec < 0:
        raise InvalidParameterError("cuts", spec, "all, single, or a number of cuts >= 0")
    if spec == 0:
        return []
    if spec == 1:
        return [cuts[-1]]
    picks = sorted({round(i * (len(cuts) - 1) / (spec - 1)) for i in range(spec)})
    return [cuts[i] for i in picks]


def _synchronizer(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


# A setting is implausible when the whole model's interquartile range exceeds this share of its
# median, or when k > 1 threads take this many times the 1-thread median: something else ran.
NOISY_IQR_SHARE = 0.25
SLOWER_THAN_ONE_THREAD = 1.25
RETRIES = 2  # re-measurements of an implausible setting before it is recorded as noisy


def time_call(fn: Callable[[], Any], warmup: int, repeats: int, device: str) -> Stats:
    """``fn``'s median, interquartile range, min and max over ``repeats`` samples:
    ``warmup`` untimed calls (at least one, which also estimates a call's time), then
    torch.utils.benchmark's Timer for each sample (a block of calls lasting at least a
    millisecond, its mean one sample; accelerators are synchronised) and its Measurement's
    statistics over the samples."""
    import logging

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # no CUDA chatter
    from torch.utils import benchmark

    sync = _synchronizer(device)
    start = time.perf_counter()
    for _ in range(max(warmup, 1)):
        fn()
    sync()
    per_call_s = (time.perf_counter() - start) / max(warmup, 1)
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    number = max(1, math.ceil(1e-3 / max(per_call_s, 1e-9)))
    (measured,) = benchmark.Measurement.merge([timer.timeit(number) for _ in range(repeats)])
    times = measured.times
    return Stats(measured.median, min(times), max(times), len(times), measured.iqr)


class _NodeTimer(fx.Interpreter):
    """One pass over the graph that times every compute node alone."""

    def __init__(self, module: fx.GraphModule, device: str) -> None:
        super().__init__(module)
        self.sync = _synchronizer(device)
        self.times: dict[str, float] = {}

    def run_node(self, n: fx.Node) -> Any:
        if n.op not in COMPUTE_OPS:
            return super().run_node(n)
        self.sync()
        start = time.perf_counter()
        result = super().run_node(n)
        self.sync()
        self.times[n.name] = time.perf_counter() - start
        return result


def time_nodes(
    module: fx.GraphModule, inputs: tuple, warmup: int, repeats: int, device: str
) -> tuple[float, ...]:
    """Median latency of every compute node of ``module``, in node order."""
    runs: list[dict[str, float]] = []
    for i in range(warmup + repeats):
        timer = _NodeTimer(module, device)
        timer.run(*inputs)
        if i >= warmup:
            runs.append(timer.times)
    order = [n.name for n in module.graph.nodes if n.op in COMPUTE_OPS]
    return tuple(statistics.median(run[name] for run in runs) for name in order)


def measure_profile(
    model: nn.Module,
    graph: ModelGraph,
    example_input: Any,
    threads: Sequence[int],
    device: str = "cpu",
    repeats: int = 10,
    warmup: int = 3,
    cuts: Sequence[Cut] = (),
    command: str = "",
    progress: Progress | None = None,
    resume: Profile | None = None,
    checkpoint: Callable[[Profile], None] | None = None,
) -> tuple[Profile, dict[str, float]]:
    """Measure ``model`` (traced as ``graph``) on this machine.

    ``resume``: a profile this machine measured of the same model, input and cuts (see
    ``resume_problem``): its thread counts are kept, not measured again. ``checkpoint`` is given
    the profile so far after every thread count, so that an interrupted measurement keeps what
    it finished. Returns the profile and the wall time spent on each part (``whole``,
    ``per_node``, ``cuts``).
    """
    check_device(device)
    cores = available_cores()
    threads = check_threads(list(threads), cores) if device == "cpu" else [torch.get_num_threads()]
    for field, value, low in (("repeats", repeats, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidParameterError(field, value, f"an integer >= {low}")
    inputs = tuple(t.to(device) for t in normalize_inputs(example_input))
    halves = {graph.fx_key(c): (c, *split(model, graph, c)) for c in cuts}
    wall = {"whole": 0.0, "per_node": 0.0, "cuts": 0.0}
    results: dict[int, Measurements] = {}
    if resume is not None and device == "cpu":
        problem = resume_problem(resume, graph, [graph.fx_key(c) for c in cuts])
        if problem:
            raise InvalidParameterError("resume", resume.command or resume.model, problem)
        results = {k: m for k, m in resume.cpu.items() if k in threads}

    def profile_so_far() -> Profile:
        return Profile(
            model=graph.model_name,
            input_shape=tuple(int(d) for d in graph.input_shapes[0]),
            node_order=graph.fx_node_order,
            machine=machine_description(device),
            command=command,
            source="measured",
            cpu=dict(sorted(results.items())) if device == "cpu" else {},
            cuda=results.get(threads[0]) if device == "cuda" else None,
            cuts={key: c.crossing for key, (c, _, _) in halves.items()},
            notes=f"repeats {repeats}, warmup {warmup}; wall seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in wall.items()),
        )

    previous_threads = torch.get_num_threads()
    model.to(device)
    try:
        with torch.no_grad():
            for k in (k for k in threads if k not in results):
                torch.set_num_threads(k)
                for attempt in range(RETRIES + 1):
                    measured = _measure_setting(
                        model, graph, inputs, halves, device, warmup, repeats, wall, k, progress
                    )
                    reason = implausible(measured, results.get(1) if k > 1 else None)
                    if reason is None:
                        break
                    if progress:
                        progress(f"{k} threads: {reason}; measuring again ({attempt + 1})")
                results[k] = replace(measured, noisy=reason)
                if checkpoint is not None:
                    checkpoint(profile_so_far())
    finally:
        torch.set_num_threads(previous_threads)
        model.to("cpu")
    return profile_so_far(), wall


def resume_problem(profile: Profile, graph: ModelGraph, cut_keys: Sequence[str]) -> str | None:
    """Why ``profile`` cannot be continued by measuring ``graph`` on this machine with
    ``cut_keys`` timed (None: it can): another model or input, another machine, other cuts."""
    here = machine_description("cpu")
    if profile.node_order != graph.fx_node_order:
        return f"it is of {profile.model}, not of {graph.model_name} as traced now"
    if tuple(profile.input_shape) != tuple(int(d) for d in graph.input_shapes[0]):
        return f"it was measured with input {tuple(profile.input_shape)}"
    for field in ("cpu", "cores", "torch"):
        if profile.machine.get(field) != here[field]:
            there = profile.machine.get(field)
            return f"it was measured with {field} {there!r}, here {here[field]!r}"
    if set(profile.cuts) != set(cut_keys):
        return f"it timed {len(profile.cuts)} cuts, this measurement {len(cut_keys)}"
    return None


def _measure_setting(model, graph, inputs, halves, device, warmup, repeats, wall, k, progress):
    label = f"{k} threads" if device == "cpu" else "cuda"
    if progress:
        progress(f"{label}: whole model")
    start = time.perf_counter()
    whole = time_call(lambda: model(*inputs), warmup, repeats, device)
    wall["whole"] += time.perf_counter() - start
    if progress:
        progress(f"{label}: every node")
    start = time.perf_counter()
    per_node = time_nodes(graph.module, inputs, warmup, repeats, device)
    wall["per_node"] += time.perf_counter() - start
    heads, tails = {}, {}
    start = time.perf_counter()
    for i, (key, (_, head, tail)) in enumerate(halves.items()):
        if progress:
            progress(f"{label}: cut {i + 1}/{len(halves)}")
        heads[key] = time_call(lambda h=head: h(*inputs), warmup, repeats, device)
        handed_over = head(*inputs)
        tails[key] = time_call(lambda t=tail, a=handed_over: t(*a), warmup, repeats, device)
    wall["cuts"] += time.perf_counter() - start
    return Measurements(whole=whole, per_node_s=per_node, head=heads, tail=tails)


def implausible(measured: Measurements, one_thread: Measurements | None) -> str | None:
    """Why a setting's whole-model timing cannot be trusted (None: it can): ``implausible_stats``
    of its whole model, against the 1-thread setting (``one_thread``) when it has more."""
    return implausible_stats(
        measured.whole, None if one_thread is None else one_thread.whole.median_s, "the whole model"
    )


def implausible_stats(stats: Stats, one_thread_s: float | None, what: str = "it") -> str | None:
    """Why a timing cannot be trusted (None: it can): its interquartile range exceeds
    ``NOISY_IQR_SHARE`` of its median, or it is ``SLOWER_THAN_ONE_THREAD`` times the 1-thread
    median ``one_thread_s`` although it ran on more threads. The one rule of every command that
    measures time (profile, compress, calibrate)."""
    if stats.iqr_s is not None and stats.iqr_s > NOISY_IQR_SHARE * stats.median_s:
        return (
            f"{what}: the interquartile range is {stats.iqr_s / stats.median_s:.0%} of the "
            f"median ({stats.median_s * 1e3:.3g} ms)"
        )
    if one_thread_s is not None and stats.median_s > SLOWER_THAN_ONE_THREAD * one_thread_s:
        return (
            f"{what}: {stats.median_s * 1e3:.3g} ms, slower than at 1 thread "
            f"({one_thread_s * 1e3:.3g} ms)"
        )
    return None


def time_plausibly(
    measure: Callable[[], Stats],
    one_thread_s: float | None = None,
    what: str = "it",
    progress: Progress | None = None,
) -> tuple[Stats, str | None]:
    """``measure()``, again up to ``RETRIES`` times while ``implausible_stats`` finds it
    implausible: the last timing, and why it stayed implausible (None: it did not)."""
    for attempt in range(RETRIES + 1):
        stats = measure()
        reason = implausible_stats(stats, one_thread_s, what)
        if reason is None:
            return stats, None
        if progress and attempt < RETRIES:
            progress(f"{reason}; measuring again ({attempt + 1})")
    return stats, reason


def plausible_median_s(
    fn: Callable[[], Any],
    repeats: int,
    what: str,
    noisy: dict[str, str],
    one_thread_s: float | None = None,
    warmup: int = 1,
    progress: Progress | None = None,
) -> float:
    """The median seconds of ``fn`` on the CPU (``time_call``), re-measured by
    ``time_plausibly``; a timing that stays implausible is noted in ``noisy`` under ``what``."""
    stats, reason = time_plausibly(
        lambda: time_call(fn, warmup, repeats, "cpu"), one_thread_s, what, progress
    )
    if reason is not None:
        noisy[what] = reason
    return stats.median_s


def inconsistent_cuts(profile: Profile, tolerance: float = 1.5) -> list[tuple[str, str, float]]:
    """Cuts whose head plus tail took more than ``tolerance`` times the whole model: a sign that
    something else ran during the measurement. Returns (setting, cut key, ratio)."""
    settings = [(f"{k} threads", m) for k, m in sorted(profile.cpu.items())]
    if profile.cuda is not None:
        settings.append(("cuda", profile.cuda))
    found = []
    for label, measured in settings:
        for key, tail in measured.tail.items():
            head = measured.head.get(key)
            if head is None:
                continue
            ratio = (head.median_s + tail.median_s) / measured.whole.median_s
            if ratio > tolerance:
                found.append((label, key, ratio))
    return found


def summary_rows(profile: Profile) -> list[dict[str, Any]]:
    """One row per measured setting (thread count, or cuda): the whole model's median, min and
    max, the sum of the per-node times, and how many cuts were timed."""
    settings = sorted(profile.cpu.items()) if profile.cpu else [("cuda", profile.cuda)]
    return [
        {
            "setting": setting,
            "whole_median_s": m.whole.median_s,
            "whole_iqr_s": m.whole.iqr_s,
            "whole_min_s": m.whole.min_s,
            "whole_max_s": m.whole.max_s,
            "sum_of_nodes_s": sum(m.per_node_s),
            "cuts_timed": len(m.tail),
            "noisy": m.noisy,
        }
        for setting, m in settings
    ]
