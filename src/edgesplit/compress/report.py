"""What a compressed variant of a model costs and saves, measured on this machine: parameters,
bytes of the model (dense, sparse, zstd), bytes that cross its cuts, MACs, latency at 1 and 2
threads, the time pruning and quantizing took (pruning also under 0..N busy worker processes,
chukhno2023 Fig. 2b's question), and how closely its outputs agree with the uncompressed model's
(torchvision models have random weights here, so agreement, not accuracy; ``compress.accuracy``
measures accuracy on real data).
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from edgesplit.compress.prune import Variant, apply_variant, count_parameters, run_example
from edgesplit.compress.sparse import weights_size_bits
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.graph.trace import torch_threads
from edgesplit.graph.zoo import load_model, random_input, spec_input
from edgesplit.profile.measure import plausible_median_s
from edgesplit.vocabulary import QUANTIZE


@dataclass(frozen=True)
class VariantReport:
    """The figures of one variant beside its uncompressed model (SI units; bits and bytes as
    named)."""

    model: str
    method: str
    pf: float
    quantize: str
    backend: str | None
    params: int
    nonzero_params: int
    full_params: int
    full_dense_bytes: int
    dense_bytes: int
    sparse_bytes: int  # per tensor the smallest of dense, bitmask and CSR
    sparse_zstd_bytes: int
    int8_bytes: int | None  # the quantized model's file
    macs: int
    full_macs: int
    input_bits: int
    min_crossing_bits: int  # the smallest tensor set an interior cut sends
    full_min_crossing_bits: int
    latency_s: dict[int, float]  # threads -> median seconds
    full_latency_s: dict[int, float]
    noisy: dict[str, str]  # "pruned, 2 threads" -> why it stayed implausible (profile's rule)
    prune_s: float
    prune_s_busy: dict[int, float]  # busy workers -> seconds
    quantize_s: float | None
    top1_agreement: float
    relative_error: float

    def record(self) -> dict:
        return asdict(self)


def measure_variant(
    name: str,
    variant: Variant,
    quantize: str = "none",
    backend: str = "onnxruntime",
    threads: Sequence[int] = (1, 2),
    busy: Sequence[int] = (0,),
    input_size: int = 224,
    runs: int = 10,
    seed: int = 0,
    input_shape: str | None = None,
) -> VariantReport:
    """Build ``name`` (a zoo model or ``file.py:factory``), prune a copy as ``variant``, quantize
    it if asked, and measure both."""
    from edgesplit.compress.quantize import check_backend, quantize_int8

    if quantize not in QUANTIZE:
        raise InvalidParameterError("quantize", quantize, " or ".join(QUANTIZE))
    if quantize == "int8":
        check_backend(backend)
    x = spec_input(name, input_size, input_shape, seed)
    full = load_model(name, seed)
    run_example(full, (x,))  # an input that does not fit is one error, before any work
    pruned = copy.deepcopy(full)
    prune_s = apply_variant(pruned, (x,), variant)
    prune_s_busy = {
        n: prune_time_busy(full, x, variant, n) if n else prune_s for n in sorted(set(busy))
    }
    graphs = [ModelGraph.from_module(m, x, "block", model_name=name) for m in (full, pruned)]
    run: Callable[[torch.Tensor], torch.Tensor] = pruned
    int8_bytes = quantize_s = None
    latency: dict[int, float] = {}
    noisy: dict[str, str] = {}
    if quantize == "int8":
        calibration = [random_input(tuple(x.shape), seed + 1 + i) for i in range(4)]
        for k in threads:
            quantized = quantize_int8(pruned, x, calibration, backend, threads=k)
            if quantize_s is None:
                quantize_s, int8_bytes, run = (quantized.prepare_s, quantized.size_bytes, quantized)
            latency[k] = latency_s(quantized, x, runs, None, k, latency.get(1), noisy, "int8")
    else:
        for k in threads:
            latency[k] = latency_s(pruned, x, runs, k, k, latency.get(1), noisy, "pruned")
    full_latency: dict[int, float] = {}
    for k in threads:
        full_latency[k] = latency_s(full, x, runs, k, k, full_latency.get(1), noisy, "full")
    inputs = torch.cat([random_input(tuple(x.shape), seed + 100 + i) for i in range(8)])
    with torch.no_grad():
        reference = full(inputs)
        output = torch.cat([run(inputs[i : i + 1]) for i in range(len(inputs))])
    params, nonzero = count_parameters(pruned)
    state = pruned.state_dict()
    return VariantReport(
        model=name,
        method=variant.method,
        pf=variant.pf,
        quantize=quantize,
        backend=backend if quantize == "int8" else None,
        params=params,
        nonzero_params=nonzero,
        full_params=count_parameters(full)[0],
        full_dense_bytes=weights_size_bits(full.state_dict(), "dense") // 8,
        dense_bytes=weights_size_bits(state, "dense") // 8,
        sparse_bytes=weights_size_bits(state, "sparse") // 8,
        sparse_zstd_bytes=weights_size_bits(state, "sparse", zstd=True) // 8,
        int8_bytes=int8_bytes,
        macs=sum(n.macs for n in graphs[1].nodes),
        full_macs=sum(n.macs for n in graphs[0].nodes),
        input_bits=int(graphs[0].values[0].size_bits),
        min_crossing_bits=_min_crossing_bits(graphs[1]),
        full_min_crossing_bits=_min_crossing_bits(graphs[0]),
        latency_s=latency,
        full_latency_s=full_latency,
        noisy=noisy,
        prune_s=prune_s,
        prune_s_busy=prune_s_busy,
        quantize_s=quantize_s,
        top1_agreement=float((output.argmax(1) == reference.argmax(1)).float().mean()),
        relative_error=float((output - reference).norm() / reference.norm().clamp_min(1e-30)),
    )


def _min_crossing_bits(graph) -> int:
    bits = graph.cut_table().transfer_bits[1:-1]
    return int(bits.min()) if len(bits) else 0


def latency_s(
    run: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    runs: int,
    threads: int | None,
    label_threads: int,
    one_thread_s: float | None,
    noisy: dict[str, str],
    what: str,
) -> float:
    """Median seconds of ``run(x)`` (``profile.measure.time_call``: warm-up, then ``runs``
    samples), at ``threads`` torch threads (None: as the runner is set up, e.g. an ONNX Runtime
    session's own), re-measured by profile's rule (``time_plausibly``) against the 1-thread
    median ``one_thread_s``; a timing that stays implausible is noted in ``noisy`` under
    "``what``, ``label_threads`` threads"."""
    label = f"{what}, {label_threads} thread{'s' if label_threads > 1 else ''}"
    reference_s = one_thread_s if label_threads > 1 else None
    with torch.no_grad(), torch_threads(threads) if threads else contextlib.nullcontext():
        return plausible_median_s(lambda: run(x), runs, label, noisy, reference_s, warmup=2)


def prune_time_busy(model: nn.Module, x: torch.Tensor, variant: Variant, workers: int) -> float:
    """Seconds to prune a copy of ``model`` as ``variant`` while ``workers`` processes spin."""
    with busy_workers(workers):
        return apply_variant(copy.deepcopy(model), (x,), variant)


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@contextlib.contextmanager
def busy_workers(count: int) -> Iterator[None]:
    """``count`` processes each keeping one core busy (pure Python arithmetic) while the block
    runs: the concurrent load of chukhno2023 Fig. 2b on this machine."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    workers = [context.Process(target=_spin, args=(stop,), daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.2 if count else 0.0)  # let them reach their loops (not a test's wait)
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
