"""The edge server: it hosts the tails of its models and runs them for devices over gRPC.

The data plane is one unary method, ``/edgesplit.Tail/Run``, registered with a generic handler:
requests and replies are raw bytes in the wire format (``runtime.wire``), never protobuf fields
around the tensors and never pickle. ``State`` answers the controller (JSON: queue, threads in
use, cores) and ``Probe`` takes bytes and answers nothing (a device measures its uplink with it).

Tails run in **lanes**: worker processes, each running one tail at a time with the threads the
request asks for (torch's thread count is per process, so concurrent tails with different thread
counts need processes). A request waits, first come first served, until a lane is free and its
threads fit in the server's ``cores`` (shi2025: the server's K threads shared among devices);
beyond ``queue_limit`` waiting requests it is shed with RESOURCE_EXHAUSTED instead of growing a
queue. A lane reads the request from a shared-memory region (one copy, no pipe for the tensor
bytes), builds the tail for the cut the request names on first use (``graph.split``, keyed by
the 64-bit id of the cut's portable key ``ModelGraph.fx_key``) and caches it. A lane that dies
fails its one request with INTERNAL and is restarted; the server keeps serving.

gRPC's standard health service answers readiness; Prometheus metrics are served on an HTTP port
when asked; a shared-secret token, when set, is checked by an interceptor on every call but the
health check; TLS is optional.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import math
import mmap
import os
import random
import shutil
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from edgesplit.compress.bottleneck import (
    SHIPPED_BOTTLENECKS,
    Bottleneck,
    BottleneckInfo,
    load_bottleneck,
    locate,
    read_info,
    wire_latents,
)
from edgesplit.compress.distill import DecodedTail, bottleneck_split
from edgesplit.compress.fold import fold_batchnorm
from edgesplit.errors import CutLimitExceededError, EdgesplitError, InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.graph.split import split
from edgesplit.graph.zoo import check_model_name, load_traced, parse_input_shape, shared_state
from edgesplit.profile.measure import available_cores, check_device
from edgesplit.runtime.batching import Batcher
from edgesplit.runtime.oip import oip_handler
from edgesplit.runtime.transport import Security, bind, check_host, grpc_server, read_token
from edgesplit.runtime.wire import (
    REPLY,
    REQUEST,
    LatentDecoder,
    WireError,
    bottleneck_cut_id,
    pack,
    routing,
    unpack,
    wire_id,
)

SERVICE = "edgesplit.Tail"
RUN = f"/{SERVICE}/Run"
STATE = f"/{SERVICE}/State"
PROBE = f"/{SERVICE}/Probe"
LANE_NAME = "edgesplit-lane"  # the lanes' process name
GRANULARITIES = ("operator", "layer", "block")

# a lane's orders and answers (struct-packed: no pickle between the processes either)
_ORDER = struct.Struct("<BQI")  # op, request bytes in the shared region, threads
# status, decode, tail, encode seconds, threads, bytes of the reply (or reason) left in the shared
# region (0: it follows on the pipe, as one larger than the region does)
_ANSWER = struct.Struct("<BdddIQ")
_RUN, _STOP = 1, 2
_OK, _NOT_FOUND, _INVALID, _INTERNAL = 0, 1, 2, 3
_SHED, _EXPIRED, _INTERNAL_LANE = 4, 5, 6  # the server's own answers: no lane ran the request
_STATUS = {
    _NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    _INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    _INTERNAL: grpc.StatusCode.INTERNAL,
    _SHED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    _EXPIRED: grpc.StatusCode.DEADLINE_EXCEEDED,
    _INTERNAL_LANE: grpc.StatusCode.INTERNAL,
}
_OUTCOMES = {_SHED: "shed", _EXPIRED: "expired", _INTERNAL_LANE: "failed"}  # else "refused"


@dataclass(frozen=True)
class ServerConfig:
    """What an edge server hosts and the limits it keeps."""

    models: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 50051  # 0: any free port
    granularities: tuple[str, ...] = GRANULARITIES  # whose cuts it answers
    input_size: int = 224
    input_shape: str | None = None  # e.g. "1,1,8,8": the example input, in place of input_size
    device: str = "cpu"  # where tails run: cpu or cuda
    cores: int | None = None  # threads all running tails may use together (None: this machine's)
    lanes: int | None = None  # tails running at once (None: min(cores, 4); 1 on cuda)
    metrics_port: int | None = None
    max_message_bytes: int = 64 * 2**20
    queue_limit: int = 16  # requests waiting for a lane beyond this are shed
    max_deadline_s: float = 60.0  # a request's longest wait and run (its own deadline if sooner)
    token: str | None = None
    tls_cert: str | None = None  # PEM files: serve TLS when both are given
    tls_key: str | None = None
    tail_cache: int = 64  # built tails kept per model
    drop_replies: float = 0.0  # fault injection: the share of replies withheld until the deadline
    batch_max: int = 1  # rows a batch of one tail may hold (1: no batching)
    batch_delay_s: float = 0.002  # how long the first request of a batch waits for others
    fold_batchnorm: bool = False  # tails with BatchNorms folded into their layers (compress.fold)
    bottlenecks: tuple[str, ...] = ()  # learned bottlenecks (files or shipped names) it decodes
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.models:
            raise InvalidParameterError("models", [], "at least one model to host")
        unknown = [g for g in self.granularities if g not in GRANULARITIES]
        if unknown or not self.granularities:
            raise InvalidParameterError(
                "granularities", list(self.granularities), f"some of {', '.join(GRANULARITIES)}"
            )
        for name in ("cores", "lanes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidParameterError(name, value, "at least 1")
        if not 2**20 <= self.max_message_bytes < 2**31:  # gRPC's lengths are 32-bit signed
            raise InvalidParameterError(
                "max_message_bytes", self.max_message_bytes, ">= 1 MiB and < 2 GiB"
            )
        if not 0 <= self.port <= 65535:
            raise InvalidParameterError("port", self.port, "0..65535 (0: any free one)")
        if self.metrics_port is not None and not 1 <= self.metrics_port <= 65535:
            raise InvalidParameterError("metrics_port", self.metrics_port, "1..65535")
        if not 0.0 < self.max_deadline_s < math.inf:
            raise InvalidParameterError("max_deadline_s", self.max_deadline_s, "a finite time > 0")
        if self.input_shape is not None:
            parse_input_shape(self.input_shape)
        if self.input_size < 1 or self.tail_cache < 1:
            field = "input_size" if self.input_size < 1 else "tail_cache"
            raise InvalidParameterError(field, getattr(self, field), ">= 1")
        if self.queue_limit < 0:
            raise InvalidParameterError("queue_limit", self.queue_limit, ">= 0")
        if (
            isinstance(self.batch_max, bool)
            or not isinstance(self.batch_max, int)
            or (self.batch_max < 1)
        ):
            raise InvalidParameterError("batch_max", self.batch_max, "an integer >= 1")
        if not 0.0 <= self.batch_delay_s <= 1.0:
            raise InvalidParameterError("batch_delay_s", self.batch_delay_s, "in [0, 1] seconds")
        if not 0.0 <= self.drop_replies < 1.0:
            raise InvalidParameterError("drop_replies", self.drop_replies, "in [0, 1)")
        Security(self.token, self.tls_cert, self.tls_key)  # its own checks (both TLS files)
        check_host(self.host, "--host")

    @property
    def decode_limit_bytes(self) -> int:
        """The largest tensor a request may declare: what a full message of int8 codes becomes
        in float64."""
        return 8 * self.max_message_bytes

    @property
    def total_cores(self) -> int:
        return self.cores or available_cores()

    @property
    def lane_count(self) -> int:
        if self.lanes is not None:
            return self.lanes
        return 1 if self.device == "cuda" else min(self.total_cores, 4)


def hosted_bottlenecks(config: ServerConfig) -> list[tuple[Path, BottleneckInfo]]:
    """The bottlenecks ``config`` names (files, or names of shipped ones), each checked from its
    sidecar: one of a hosted model, its name not another's (a bottleneck's name is its identity
    on the wire and under the Open Inference Protocol). Its cut must be a cut of a granularity
    the server answers: the lanes find it by its portable key."""
    found: list[tuple[Path, BottleneckInfo]] = []
    for name in config.bottlenecks:
        path, info = read_info(locate(name, SHIPPED_BOTTLENECKS, "bottleneck"))
        if info.model not in config.models:
            raise InvalidParameterError(
                "bottlenecks", name,
                f"a bottleneck of a hosted model ({', '.join(config.models)}); it is "
                f"{info.model}'s",
            )  # fmt: skip
        if any(other.name == info.name for _, other in found):
            raise InvalidParameterError("bottlenecks", name, "bottlenecks of different names")
        found.append((path, info))
    return found


def _load_bottlenecks(config: ServerConfig) -> list[tuple[Bottleneck, BottleneckInfo]]:
    """The server process's copy of its bottlenecks (their priors decode latents before
    batching and for the Open Inference Protocol)."""
    return [load_bottleneck(path)[:2] for path, _ in hosted_bottlenecks(config)]


# -- a lane: one worker process -------------------------------------------------------------------


class _Hosted:
    """One model in a lane: its graphs, its cuts by wire id, a cache of built tails, and the
    tails of its bottlenecks (decoder and tail, built once) with their latents' decoders."""

    def __init__(self, spec: str, config: ServerConfig, parameters: dict[str, Any]) -> None:
        self.spec = spec
        first, *others = config.granularities
        self.model, example, graph = load_traced(
            spec, first, config.input_size, config.input_shape, parameters=parameters
        )
        graphs = [graph] + [
            ModelGraph.from_module(self.model, example, g, model_name=spec) for g in others
        ]
        self.cuts: dict[int, tuple[Any, Any]] = {}
        for g in graphs:
            try:
                cuts = g.cuts()
            except CutLimitExceededError:
                continue  # this granularity has too many cuts to index; the others still serve
            for cut in cuts:
                self.cuts.setdefault(wire_id(g.fx_key(cut)), (g, cut))
        self.tails: OrderedDict[int, Any] = OrderedDict()
        self.cache = config.tail_cache
        self.fold_batchnorm = config.fold_batchnorm
        self.device = config.device
        self.decoded: dict[int, Any] = {}
        self.latents: dict[int, LatentDecoder] = {}
        for path, info in hosted_bottlenecks(config):
            if info.model == spec:  # its own granularity first, else one holding its cut
                ordered = sorted(graphs, key=lambda g: g.granularity != info.granularity)
                graph = next((g for g in ordered if g.cut_with_key(info.cut_key)), ordered[0])
                self._add_bottleneck(graph, path)
        if self.device == "cuda":
            self.model = self.model.cuda()
            self.decoded = {k: tail.cuda() for k, tail in self.decoded.items()}

    def _add_bottleneck(self, graph: ModelGraph, path: Path) -> None:
        _, bottleneck, tail, info = bottleneck_split(self.model, graph, path)
        if self.fold_batchnorm:
            tail, _ = fold_batchnorm(tail)
        cut_id = bottleneck_cut_id(info.cut_key, info.name)
        self.decoded[cut_id] = DecodedTail(bottleneck, tail).eval()
        self.latents[cut_id] = functools.partial(wire_latents, bottleneck)

    def tail(self, cut_id: int):
        if cut_id in self.decoded:
            return self.decoded[cut_id]
        if cut_id in self.tails:
            self.tails.move_to_end(cut_id)
            return self.tails[cut_id]
        if cut_id not in self.cuts:
            return None
        graph, cut = self.cuts[cut_id]
        _, tail = split(self.model, graph, cut)
        if self.fold_batchnorm:
            tail, _ = fold_batchnorm(tail)
        self.tails[cut_id] = tail
        if len(self.tails) > self.cache:
            self.tails.popitem(last=False)
        return tail


@dataclass
class _Answer:
    """A lane's answer to one request: a status, where its time went, the reply or a reason."""

    status: int
    body: bytes
    decode_s: float = 0.0
    tail_s: float = 0.0
    encode_s: float = 0.0
    threads: int = 0
    queue_s: float = 0.0  # waiting for a lane (the server's, not sent over the lane's pipe)

    def send(self, conn: Any, region: mmap.mmap) -> None:
        """Over a lane's pipe: the fields, and the body in the shared region when it fits (the
        request it answers is no longer needed), else on the pipe after them."""
        times = (self.decode_s, self.tail_s, self.encode_s)
        if len(self.body) <= len(region):
            region[: len(self.body)] = self.body
            conn.send_bytes(_ANSWER.pack(self.status, *times, self.threads, len(self.body)))
        else:
            conn.send_bytes(_ANSWER.pack(self.status, *times, self.threads, 0) + self.body)

    @classmethod
    def received(cls, data: bytes, region: mmap.mmap) -> _Answer:
        status, decode_s, tail_s, encode_s, threads, in_region = _ANSWER.unpack_from(data)
        body = region[:in_region] if in_region else data[_ANSWER.size :]
        return cls(status, body, decode_s, tail_s, encode_s, threads)


def _run_tail(
    hosted: dict[int, _Hosted],
    latents: dict[int, LatentDecoder],
    request: memoryview,
    threads: int,
    device: str,
    limit_bytes: int,
) -> _Answer:
    """Check the request, run the tail it names with ``threads``, pack the reply (no tensor
    decoded larger than ``limit_bytes``; a bottleneck's latents decoded by its prior, from
    ``latents`` by cut id)."""
    import torch
    from torch.utils._pytree import tree_flatten

    start = perf_counter()
    try:
        message = unpack(request, limit_bytes, latents)
    except WireError as error:
        return _Answer(_INVALID, str(error).encode())
    decode_s = perf_counter() - start
    empty = next((t for t in message.tensors if t.numel() == 0), None)
    if empty is not None:
        shape = list(empty.shape)
        return _Answer(_INVALID, f"a tensor of shape {shape} holds no element: no task".encode())
    model = hosted.get(message.model_id)
    if message.kind != REQUEST:
        return _Answer(_INVALID, b"a request was expected, this message is a reply")
    if model is None:
        return _Answer(_NOT_FOUND, f"model id {message.model_id:#x} is not hosted here".encode())
    tail = model.tail(message.cut_id)
    if tail is None:
        reason = f"cut id {message.cut_id:#x} is not a cut of {model.spec} at any granularity"
        return _Answer(_NOT_FOUND, reason.encode())
    if torch.get_num_threads() != threads:  # setting it costs even when it does not change
        torch.set_num_threads(threads)
    cuda = device == "cuda"
    try:
        start = perf_counter()
        with torch.no_grad():
            outputs = tail(*(t.cuda() for t in message.tensors) if cuda else message.tensors)
            if cuda:
                torch.cuda.synchronize()
        tail_s = perf_counter() - start
    except Exception as error:  # whatever the tensors make the tail raise: this request's
        reason = f"the tail of {model.spec} refused the tensors: {_said(error)}"
        return _Answer(_INVALID, reason.encode())
    start = perf_counter()
    try:
        leaves = [outputs] if isinstance(outputs, torch.Tensor) else tree_flatten(outputs)[0]
        if cuda:
            leaves = [t.cpu() for t in leaves]
        reply = pack(REPLY, message.model_id, message.cut_id, message.request_id, leaves)
    except Exception as error:
        return _Answer(_INTERNAL, f"the reply of {model.spec}'s tail: {_said(error)}".encode())
    return _Answer(_OK, reply, decode_s, tail_s, perf_counter() - start, threads)


def _said(error: BaseException) -> str:
    """An exception in one line: its first line, else its type."""
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _answer(
    hosted: dict[int, _Hosted],
    latents: dict[int, LatentDecoder],
    request: memoryview,
    threads: int,
    device: str,
    limit_bytes: int,
) -> _Answer:
    """``_run_tail``, and any exception it lets through (a bug of ours, not the request's)
    as an INTERNAL answer: a lane never dies of a request."""
    try:
        return _run_tail(hosted, latents, request, threads, device, limit_bytes)
    except Exception as error:
        return _Answer(_INTERNAL, f"{type(error).__name__}: {_said(error)}".encode())


def _lane_main(config: ServerConfig, conn: Any, shared: dict[str, dict[str, Any]]) -> None:
    """A lane's process: map the shared region (its descriptor comes over the pipe), load the
    models on the parameters the server shares (``shared``: by model), then run the tails it is
    ordered to."""
    from multiprocessing import reduction

    from edgesplit.runtime.lifetime import watch_parent

    watch_parent()  # a killed server never leaves its lanes behind
    descriptor = reduction.recv_handle(conn)
    region = mmap.mmap(descriptor, config.max_message_bytes)
    os.close(descriptor)
    import torch

    torch.set_num_threads(1)
    try:
        hosted = {wire_id(spec): _Hosted(spec, config, shared[spec]) for spec in config.models}
    except EdgesplitError as error:
        conn.send_bytes(b"E" + str(error).encode())
        return
    conn.send_bytes(b"R")
    latents = {k: v for model in hosted.values() for k, v in model.latents.items()}
    while True:
        try:
            op, length, threads = _ORDER.unpack(conn.recv_bytes())
        except (EOFError, OSError):
            break
        if op == _STOP:
            break
        with memoryview(region)[:length] as view:
            answer = _answer(
                hosted, latents, view, threads, config.device, config.decode_limit_bytes
            )
        answer.send(conn, region)
    region.close()


class _Lane:
    """The server's handle on one lane: its process, its pipe and its shared region (a file
    unlinked as soon as it is made: the server maps it and hands its descriptor to the lane over
    the pipe, so no exit, a SIGKILL included, leaves a file behind)."""

    def __init__(self, config: ServerConfig, folder: str, shared: dict[str, Any]) -> None:
        self.config = config
        self.folder = folder
        self.shared = shared
        self.region: mmap.mmap | None = None
        self.process: Any = None
        self.conn: Any = None

    def spawn(self) -> None:
        import multiprocessing
        from multiprocessing import reduction

        size = self.config.max_message_bytes
        descriptor, path = tempfile.mkstemp(prefix="edgesplit-lane-", dir=self.folder)
        os.unlink(path)  # the descriptors keep it while the server and the lane use it
        try:
            try:
                os.posix_fallocate(descriptor, 0, size)  # room now, not a SIGBUS later
                self.region = mmap.mmap(descriptor, size)
            except OSError as error:
                raise InvalidParameterError(
                    "max_message_bytes", size,
                    f"room for one message per lane in {self.folder} ({error.strerror}); lower "
                    "--max-message-mb or --lanes",
                ) from None  # fmt: skip
            context = multiprocessing.get_context("spawn")
            here, there = context.Pipe()
            self.process = context.Process(
                target=_lane_main,
                args=(self.config, there, self.shared),
                daemon=True,
                name=LANE_NAME,
            )
            self.process.start()
            there.close()
            self.conn = here
            reduction.send_handle(here, descriptor, self.process.pid)
        finally:
            os.close(descriptor)

    def ready(self) -> str | None:
        """Wait for the lane to load its models: None, or why it could not."""
        try:
            first = self.conn.recv_bytes()
        except (EOFError, OSError):
            return f"a lane exited with status {self.process.exitcode} while loading the models"
        return None if first == b"R" else first[1:].decode()

    def run(self, request: bytes, threads: int) -> _Answer:
        """Run one request (raises EOFError or OSError if the lane died)."""
        assert self.region is not None
        self.region[: len(request)] = request
        self.conn.send_bytes(_ORDER.pack(_RUN, len(request), threads))
        return _Answer.received(self.conn.recv_bytes(), self.region)

    def close(self) -> None:
        """Stop the process (asked, then killed after 5 s) and unmap the region."""
        if self.process is not None and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send_bytes(_ORDER.pack(_STOP, 0, 0))
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        if self.conn is not None:
            self.conn.close()
        if self.region is not None:
            self.region.close()


# -- admission: lanes and threads, first come first served ----------------------------------------


class _Admission:
    """Hands out a free lane and ``threads`` of the server's cores, in arrival order; beyond
    ``queue_limit`` waiting requests a new one is refused."""

    def __init__(self, lanes: list[_Lane], cores: int, queue_limit: int) -> None:
        self.free = list(lanes)
        self.cores = cores
        self.threads_in_use = 0
        self.queue_limit = queue_limit
        self.waiting: collections.deque[object] = collections.deque()
        self.condition = threading.Condition()

    def acquire(self, threads: int, timeout_s: float) -> _Lane | str:
        """A lane, or why none: "full" (shed) or "timeout"."""
        ticket = object()
        with self.condition:
            if self.waiting or not self._fits(threads):
                if len(self.waiting) >= self.queue_limit:
                    return "full"
                self.waiting.append(ticket)
                ok = self.condition.wait_for(
                    lambda: self.waiting[0] is ticket and self._fits(threads), timeout_s
                )
                self.waiting.remove(ticket)
                self.condition.notify_all()
                if not ok:
                    return "timeout"
            self.threads_in_use += threads
            return self.free.pop()

    def _fits(self, threads: int) -> bool:
        return bool(self.free) and self.threads_in_use + threads <= self.cores

    def release(self, lane: _Lane, threads: int) -> None:
        with self.condition:
            self.free.append(lane)
            self.threads_in_use -= threads
            self.condition.notify_all()


# -- metrics, authentication ----------------------------------------------------------------------


class _Metrics:
    """Prometheus metrics of one server (its own registry)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        registry = self.registry = CollectorRegistry()
        self.requests = Counter(
            "edgesplit_requests", "Tail requests by model and outcome", ["model", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "edgesplit_tail_seconds", "Time to run a tail", ["model", "cut"], registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.queue = Gauge(
            "edgesplit_queue_depth", "Requests waiting for a lane", registry=registry
        )
        self.threads = Gauge(
            "edgesplit_threads_in_use", "Threads of running tails", registry=registry
        )
        self.shed = Counter(
            "edgesplit_shed", "Requests shed when the queue was full", registry=registry
        )
        self.lane_restarts = Counter(
            "edgesplit_lane_restarts", "Lanes that died and were started again", registry=registry
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: Any) -> Any:
        """``metric.labels(*labels)`` (as strings; an int in hexadecimal), kept: prometheus_client
        checks the labels on every call, a cost each request paid (the labels a server sees are
        its models, outcomes and cuts: a bounded set)."""
        key = (metric, *labels)
        found = self._children.get(key)
        if found is None:
            said = [f"{label:x}" if isinstance(label, int) else label for label in labels]
            found = self._children[key] = metric.labels(*said)
        return found


# -- the server -----------------------------------------------------------------------------------


def _region_folder(needed: int) -> str:
    """Shared memory (``/dev/shm``) when it has room for the lanes' regions, else the temp
    folder (still shared through the page cache)."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and shutil.disk_usage(shm).free > 2 * needed:
        return shm
    return tempfile.gettempdir()


class EdgeServer:
    """An edge server: ``start()`` starts the lanes and listens (returns the port), ``stop()``
    finishes what is in flight."""

    def __init__(self, config: ServerConfig) -> None:
        check_device(config.device)
        for spec in config.models:
            base = spec.rpartition("@")[0] or spec  # a compressed variant: its base model
            if ":" not in base:  # a file's model is checked by the lanes that import it
                check_model_name(base)
        self.config = config
        self.security = Security(config.token, config.tls_cert, config.tls_key)
        self.names = {wire_id(spec): spec for spec in config.models}
        self.bottlenecks = _load_bottlenecks(config)  # the lanes build their tails
        self.latents: dict[int, LatentDecoder] = {
            bottleneck_cut_id(info.cut_key, info.name): functools.partial(wire_latents, b)
            for b, info in self.bottlenecks
        }
        self.metrics = _Metrics()
        self.counts: collections.Counter[str] = collections.Counter()
        self._tail_total_s = 0.0  # over the served requests
        self.lane_restarts = 0
        self.batcher: Batcher | None = None
        if config.batch_max > 1:
            self.batcher = Batcher(
                config.batch_max, config.batch_delay_s, self._execute, _OK,
                config.max_message_bytes,
            )  # fmt: skip
        self.port = 0
        self._lanes: list[_Lane] = []
        self._server: grpc.Server | None = None
        self._health = health.HealthServicer()
        self._metrics_http: Any = None
        self._random = random.Random(config.seed)
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> int:
        """Start the lanes and listen; returns the port (the configured one, or the free one
        picked for port 0). On any failure nothing is left running."""
        server = self._grpc_server()
        try:
            self.port = self._bind(server)
            self._start_lanes()
            self.admission = _Admission(
                list(self._lanes), self.config.total_cores, self.config.queue_limit
            )
            self.metrics.queue.set_function(lambda: len(self.admission.waiting))
            self.metrics.threads.set_function(lambda: self.admission.threads_in_use)
            if self.config.metrics_port is not None:
                self._start_metrics()
        except BaseException:
            server.stop(None)
            self._close_lanes()
            raise
        server.start()
        for name in ("", SERVICE):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        return self.port

    def _grpc_server(self) -> grpc.Server:
        config = self.config
        workers = config.lane_count + config.queue_limit + 4
        server = grpc_server(workers, self.security, config.max_message_bytes)
        handlers = {
            "Run": grpc.unary_unary_rpc_method_handler(self.run),
            "State": grpc.unary_unary_rpc_method_handler(self._state),
            "Probe": grpc.unary_unary_rpc_method_handler(self._probe),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers), oip_handler(self))
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        return server

    def _bind(self, server: grpc.Server) -> int:
        return bind(server, self.config.host, self.config.port, self.security)

    def _start_lanes(self) -> None:
        import torch.multiprocessing  # noqa: F401 (tensors then travel to a lane as descriptors)

        config = self.config
        try:
            shared = {
                spec: shared_state(spec, config.input_size, config.input_shape)
                for spec in config.models
            }
        except EdgesplitError as error:
            raise EdgesplitError(f"the server could not load its models: {error}") from None
        folder = _region_folder(config.lane_count * config.max_message_bytes)
        self._lanes = [_Lane(config, folder, shared) for _ in range(config.lane_count)]
        for lane in self._lanes:
            lane.spawn()
        for lane in self._lanes:
            reason = lane.ready()
            if reason is not None:
                raise EdgesplitError(f"the server could not load its models: {reason}")

    def _start_metrics(self) -> None:
        from prometheus_client import start_http_server

        try:
            self._metrics_http = start_http_server(
                self.config.metrics_port, self.config.host, registry=self.metrics.registry
            )
        except OSError as error:
            raise InvalidParameterError(
                "--metrics-port", self.config.metrics_port, f"a free port ({error.strerror})"
            ) from None

    def stop(self, grace_s: float = 5.0) -> None:
        """Say NOT_SERVING, refuse new requests, finish those in flight (at most ``grace_s``),
        then stop the lanes."""
        self._stopping.set()
        if self._server is not None:
            self._health.enter_graceful_shutdown()
            self._server.stop(grace_s).wait()
            self._server = None
        if self._metrics_http is not None:
            http, thread = self._metrics_http
            http.shutdown()
            thread.join()
            self._metrics_http = None
        self._close_lanes()

    def _close_lanes(self) -> None:
        for lane in self._lanes:
            lane.close()
        self._lanes = []

    def wait(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            self._server.wait_for_termination()

    # -- methods -----------------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        """Whether it takes requests (started, not stopping)."""
        return self._server is not None and not self._stopping.is_set()

    def run(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Run one request of the wire format (``runtime.wire``) on a lane, in a batch with
        others for the same tail when batching is on: its reply, or the call aborted with the
        status that says why (also for the Open Inference Protocol's ModelInfer, which comes
        here as such a request)."""
        config = self.config
        model_id, cut_id, asked = routing(request)
        spec = self.names.get(model_id, "unknown")
        threads = min(asked, config.total_cores) if asked else config.total_cores
        remaining = context.time_remaining()
        budget_s = (
            config.max_deadline_s if remaining is None else min(remaining, config.max_deadline_s)
        )
        waited_s, size = 0.0, 1
        if self.batcher is None:
            answer = self._execute(request, threads, budget_s)
        else:
            try:
                message = unpack(request, config.decode_limit_bytes, self.latents)
            except WireError as error:
                message, answer = None, _Answer(_INVALID, str(error).encode())
            if message is not None:
                answer, waited_s, size = self.batcher.submit(request, message, threads, budget_s)
        if answer.status != _OK:
            self._count(spec, _OUTCOMES.get(answer.status, "refused"))
            context.abort(_STATUS[answer.status], answer.body.decode())
        self._count(spec, "served", answer.tail_s)
        self.metrics.child(self.metrics.latency, spec, cut_id).observe(answer.tail_s)
        if config.drop_replies and self._random.random() < config.drop_replies:
            self._withhold(context)
        context.set_trailing_metadata(
            (
                ("queue-seconds", f"{waited_s + answer.queue_s:.9f}"),
                ("tail-seconds", f"{answer.tail_s:.9f}"),
                ("codec-seconds", f"{answer.decode_s + answer.encode_s:.9f}"),
                ("tail-threads", str(answer.threads)),
                ("batch-size", str(size)),
            )
        )
        return answer.body

    def _execute(self, request: bytes, threads: int, budget_s: float) -> _Answer:
        """``request`` on a lane with ``threads`` once admitted (waiting at most ``budget_s``):
        the lane's answer, or the one that says why it did not run (never raises)."""
        start = perf_counter()
        lane = self.admission.acquire(threads, budget_s)
        queue_s = perf_counter() - start
        if lane == "full":
            reason = f"{self.config.queue_limit} requests already wait for a lane: try later"
            return _Answer(_SHED, reason.encode())
        if lane == "timeout":
            return _Answer(_EXPIRED, b"the deadline passed in the queue")
        try:
            answer = lane.run(request, threads)
        except (EOFError, OSError):
            try:
                self._restart(lane)
            except EdgesplitError as error:
                return _Answer(_INTERNAL_LANE, f"the lane running the tail died: {error}".encode())
            return _Answer(_INTERNAL_LANE, b"the lane running the tail died; restarted")
        finally:
            self.admission.release(lane, threads)
        answer.queue_s = queue_s
        return answer

    def _withhold(self, context: grpc.ServicerContext) -> None:
        """Fault injection: the reply is lost; the device sees its deadline pass."""
        remaining = context.time_remaining()
        wait_s = self.config.max_deadline_s if remaining is None else remaining
        self._stopping.wait(min(wait_s, self.config.max_deadline_s))
        self._count("", "dropped")
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the reply was dropped (fault injection)")

    def _restart(self, lane: _Lane) -> None:
        self.metrics.lane_restarts.inc()
        with self._lock:
            self.lane_restarts += 1
        lane.close()
        lane.spawn()
        reason = lane.ready()
        if reason is not None:
            raise EdgesplitError(f"a lane could not be restarted: {reason}")

    def _count(self, spec: str, outcome: str, tail_s: float = 0.0) -> None:
        if spec:
            self.metrics.child(self.metrics.requests, spec, outcome).inc()
        if outcome == "shed":
            self.metrics.shed.inc()
        with self._lock:
            self.counts[outcome] += 1
            self._tail_total_s += tail_s

    def state(self) -> dict[str, Any]:
        """What the controller reads each slot."""
        admission = self.admission
        with self._lock:
            counts = dict(self.counts)
            served = counts.get("served", 0)
            mean_tail_s = self._tail_total_s / served if served else 0.0
        return {
            "models": list(self.config.models),
            "cores": admission.cores,
            "lanes": self.config.lane_count,
            "device": self.config.device,
            "threads_in_use": admission.threads_in_use,
            "waiting": len(admission.waiting),
            "mean_tail_s": mean_tail_s,
            "counts": counts,
            "lane_restarts": self.lane_restarts,
        }

    def _state(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return json.dumps(self.state()).encode()

    def _probe(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return b""


def config_record(config: ServerConfig) -> dict[str, Any]:
    """The configuration as plain data, the token left out."""
    record = asdict(config)
    record["token"] = "set" if config.token else None
    return record


def serve(
    config: ServerConfig,
    ready: Callable[[int], None] | None = None,
    controller: str | None = None,
    advertise: str = "",
) -> None:
    """Run a server until SIGINT or SIGTERM, then stop gracefully; ``ready(port)`` is called
    once it listens. With ``controller`` (HOST:PORT) it registers there and reports its load
    (``runtime.registration``; ``advertise``: the address devices reach it at)."""
    import signal

    from edgesplit.runtime.registration import ServerRegistration  # it imports this module

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    server = EdgeServer(config)
    port = server.start()
    registration = None
    try:
        if controller is not None:
            registration = ServerRegistration(server, controller, server.security, advertise)
            registration.start()
        if ready is not None:
            ready(port)
        stop.wait()
    finally:
        if registration is not None:
            registration.stop()
        server.stop()


@contextlib.contextmanager
def serving_process(config: ServerConfig) -> Iterator[tuple[int, int]]:
    """``serve(config)`` in a spawned process of its own (as deployed: not the caller's
    interpreter): yields (its pid, its port) once it listens, and stops it gracefully (SIGTERM)
    on leaving."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=_serve_and_say, args=(config, there))
    process.start()
    there.close()
    try:
        try:
            port = here.recv()
        except EOFError:
            process.join()
            raise EdgesplitError(
                f"the server process exited (status {process.exitcode}) before it listened"
            ) from None
        yield process.pid, port
    finally:
        process.terminate()
        process.join()
        here.close()


def _serve_and_say(config: ServerConfig, conn: Any) -> None:
    serve(config, ready=conn.send)


def server_config(file: str | None = None, **given: Any) -> ServerConfig:
    """A ServerConfig from a YAML file (its keys are ServerConfig's fields, plus ``token_file``)
    with the options ``given`` (those not None) taking precedence; the token comes from
    ``token_file``, else the ``EDGESPLIT_TOKEN`` environment variable."""
    import dataclasses

    import yaml
    from pydantic import TypeAdapter, ValidationError

    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = yaml.safe_load(Path(file).read_text()) or {}
        except OSError as error:
            raise InvalidParameterError(
                "--config", file, f"a readable file ({error.strerror})"
            ) from None
        except yaml.YAMLError as error:
            raise InvalidParameterError("--config", file, f"valid YAML ({error})") from None
        if not isinstance(data, dict):
            raise InvalidParameterError("--config", file, "a YAML mapping of server settings")
    names = {f.name for f in dataclasses.fields(ServerConfig)} | {"token_file"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidParameterError(
            f"{file}: {unknown[0]}",
            data[unknown[0]],
            f"one of the fields {', '.join(sorted(names))}",
        )
    data.update({name: value for name, value in given.items() if value is not None})
    token_file = data.pop("token_file", None)
    data.setdefault("token", read_token(token_file))
    if not data.get("models"):
        raise InvalidParameterError(
            "--models", None, "the models to host, e.g. resnet18,mobilenet_v2"
        )
    try:
        return TypeAdapter(ServerConfig).validate_python(data)
    except ValidationError as error:
        first = error.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, InvalidParameterError):  # ServerConfig's own check
            raise cause from None
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidParameterError(where, first.get("input"), first["msg"]) from None
