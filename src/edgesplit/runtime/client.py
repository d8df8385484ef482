"""The device side: run the head of a real model, send what crosses to an edge server, receive the
tail's output; never lose a task.

``DeviceClient.run(x, cut)`` returns the model's output and a ``TaskRecord`` of where the time
went: the head, encoding, the transfer (upload and download, shaped when the client has a
``TokenBucket``), the wait in the server's queue, the tail, and the codec work on both sides.
When the server cannot finish the task (refused connection, deadline, overload, a bad token, a
malformed reply) the device runs the tail itself and the record says why; after a server was
unreachable the device runs locally for ``retry_s`` before it tries that server again. The
client also estimates its uplink rate from its own transfers (the median of the last three, as
seconds per bit, less the runtime's own overhead when ``overhead`` gives it), and ``probe``
measures it when no task went out.
"""

from __future__ import annotations

import collections
import itertools
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from time import perf_counter
from typing import Any

import grpc
import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from edgesplit.compress.bottleneck import SHIPPED_BOTTLENECKS, encode_latents, locate, read_info
from edgesplit.compress.codecs import LATENTS, Codec, Encoded
from edgesplit.compress.distill import bottleneck_split
from edgesplit.compress.exits import SHIPPED_EXITS, confidence, load_exit
from edgesplit.compress.fold import fold_batchnorm
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.graph import Cut
from edgesplit.graph.split import split
from edgesplit.graph.zoo import load_traced
from edgesplit.runtime.oip import (
    INFER,
    SCHEME,
    LatentTail,
    OIPError,
    Tail,
    infer_outputs,
    infer_request,
)
from edgesplit.runtime.server import PROBE, RUN, STATE
from edgesplit.runtime.transport import Security, open_channel
from edgesplit.runtime.wire import (
    REPLY,
    REQUEST,
    WireError,
    bottleneck_cut_id,
    pack,
    unpack,
    wire_id,
)

RATE_SAMPLES = 3  # the uplink estimate is the median of this many transfers
UNREACHABLE = ("UNAVAILABLE", "UNAUTHENTICATED")  # failures after which the device backs off


class TokenBucket:
    """Shapes a link to ``rate_bps``: tokens (bits) accrue at the rate up to ``burst_bits``;
    sending ``bits`` waits until the bucket holds them. ``set_rate`` replays a scenario's rate
    or a trace slot by slot."""

    def __init__(self, rate_bps: float, burst_bits: float = 0.0) -> None:
        self.burst_bits = burst_bits
        self._lock = threading.Lock()
        self._tokens = burst_bits
        self._stamp = time.monotonic()
        self.set_rate(rate_bps)

    def set_rate(self, rate_bps: float) -> None:
        if not rate_bps > 0:
            raise InvalidParameterError("rate_bps", rate_bps, "a positive rate")
        with self._lock:
            self._refill()
            self.rate_bps = float(rate_bps)

    def _refill(self) -> None:
        now = time.monotonic()
        if hasattr(self, "rate_bps"):
            self._tokens = min(self.burst_bits, self._tokens + (now - self._stamp) * self.rate_bps)
        self._stamp = now

    def take(self, bits: float, limit_s: float = float("inf")) -> float | None:
        """Take ``bits``, waiting until the bucket holds them; returns the seconds waited. A
        transfer that would take longer than ``limit_s`` (a request's deadline) takes that
        long, sends nothing and returns None: the deadline passed on the link."""
        with self._lock:
            self._refill()
            wait_s = max(0.0, (bits - self._tokens) / self.rate_bps)
            if wait_s > limit_s:
                wait_s = None
            else:
                self._tokens -= bits
        time.sleep(limit_s if wait_s is None else wait_s)  # the shaped transmission time
        return wait_s


@dataclass(frozen=True)
class TaskRecord:
    """One task: where it ran, why it ran locally if it did, and its latency components
    (seconds). ``transfer_s`` is the round trip minus the server's queue, codec and tail time:
    upload, download and the RPC itself (for a task that fell back, the failed attempt's
    time). ``codec_s`` is the encoding on the device plus the decoding and re-encoding on the
    server plus decoding the reply. ``tail_s`` is the tail where it ran: on the server, or on
    the device (``server`` None)."""

    cut: int  # 0-based position on the cut index
    server: int | None  # index of the server that ran the tail (None: the device did)
    codec: str
    fallback: str | None  # why the device finished the task itself (None: it did not need to)
    head_s: float
    codec_s: float = 0.0
    transfer_s: float = 0.0
    queue_s: float = 0.0
    tail_s: float = 0.0
    sent_bytes: int = 0
    threads: int = 0  # the server's threads for the tail
    note: str | None = None  # e.g. why the codec asked for was not the one used
    exit_s: float = 0.0  # the early exit's head on the device
    exited: int = 0  # rows (images) the early exit answered: they were not sent

    @property
    def offloaded(self) -> bool:
        return self.server is not None

    @property
    def latency_s(self) -> float:
        return (
            self.head_s + self.exit_s + self.codec_s + self.transfer_s + self.queue_s + self.tail_s
        )

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "offloaded": self.offloaded, "latency_s": self.latency_s}


@dataclass(frozen=True)
class EarlyExit:
    """An early exit to take at its cut (``compress.exits``): the exit's file or shipped name,
    and the confidence (largest softmax probability) at or above which a row is answered on the
    device and not sent."""

    name: str
    threshold: float

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise InvalidParameterError("exit threshold", self.threshold, "in (0, 1]")


@dataclass(frozen=True)
class _Learned:
    """A bottleneck or an exit as a device runs it: the module, its cut, and the cut id."""

    module: Any
    position: int
    cut_id: int
    info: Any


class DeviceModel:
    """A model traced for its cuts at one granularity, with its heads and tails split once and
    kept: what every client of one model in a process shares (a hundred emulated devices of one
    model hold it once). ``fold_batchnorm``: each half with its BatchNorms folded into the
    layers before them (``compress.fold``; the cuts are the traced model's either way)."""

    def __init__(
        self,
        spec: str,
        granularity: str = "operator",
        input_size: int = 224,
        fold_batchnorm: bool = False,
        input_shape: str | None = None,
    ) -> None:
        self.spec = spec
        self.fold_batchnorm = fold_batchnorm
        self.granularity = granularity
        self.input_size = input_size
        self.model, self.example, self.graph = load_traced(
            spec, granularity, input_size, input_shape
        )
        with torch.no_grad():
            self.output_spec = tree_flatten(self.model(self.example))[1]
        self.cut_count = self.graph.cut_table().size
        self._halves: dict[int, tuple[Any, Any]] = {}
        self._cut_ids: dict[int, int] = {}
        self._learned: dict[tuple[str, str], _Learned] = {}
        self._lock = threading.Lock()

    def halves(self, cut: int) -> tuple[Any, Any]:
        """The head and tail of cut ``cut`` (0-based), split once and kept."""
        with self._lock:
            if cut not in self._halves:
                halves = split(self.model, self.graph, self.graph.cut(cut))
                if self.fold_batchnorm:
                    halves = tuple(fold_batchnorm(half)[0] for half in halves)
                self._halves[cut] = halves
            return self._halves[cut]

    def bottleneck(self, name: str) -> _Learned:
        """The bottleneck ``name`` (a file or a shipped name) of this model, loaded once."""

        def load() -> _Learned:
            path = locate(name, SHIPPED_BOTTLENECKS, "bottleneck")
            self._check_learned("bottleneck", name, read_info(path)[1])
            _, bottleneck, _, info = bottleneck_split(self.model, self.graph, path)
            position = self.graph.cut_with_key(info.cut_key).index
            return _Learned(bottleneck, position, bottleneck_cut_id(info.cut_key, info.name), info)

        return self._kept("bottleneck", name, load)

    def exit(self, name: str) -> _Learned:
        """The early exit ``name`` (a file or a shipped name) of this model, loaded once; its
        classes must be the model's output (one [N, classes] tensor)."""

        def load() -> _Learned:
            head, info = load_exit(locate(name, SHIPPED_EXITS, "exit"))
            self._check_learned("exit", name, info)
            with torch.no_grad():
                output = self.model(self.example)
            if not isinstance(output, torch.Tensor) or list(output.shape[1:]) != [info.classes]:
                raise InvalidParameterError(
                    "exit", name, f"an exit of a model whose output is [N, {info.classes}]"
                )
            cut = self.graph.cut_with_key(info.cut_key)
            if cut is None:
                raise InvalidParameterError(
                    "exit", name,
                    f"an exit at a cut of this {self.granularity} graph (it is at "
                    f"{info.granularity} cut {info.cut})",
                )  # fmt: skip
            return _Learned(head, cut.index, 0, info)

        return self._kept("exit", name, load)

    def _kept(self, kind: str, name: str, load: Callable[[], _Learned]) -> _Learned:
        with self._lock:
            if (kind, name) not in self._learned:
                self._learned[kind, name] = load()
            return self._learned[kind, name]

    def _check_learned(self, kind: str, name: str, info: Any) -> None:
        """A bottleneck or exit must be this model's (its cut is then found by its key)."""
        if info.model != self.spec:
            raise InvalidParameterError(
                kind, name, f"a {kind} of {self.spec} (it is {info.model}'s)"
            )

    def cut_id(self, cut: int) -> int:
        """The wire id of cut ``cut`` (0-based): the 64-bit hash of its portable key (computed
        once per cut)."""
        if cut not in self._cut_ids:
            self._cut_ids[cut] = wire_id(self.graph.fx_key(self.graph.cut(cut)))
        return self._cut_ids[cut]


class DeviceClient:
    """One device: a model (its own, or a ``DeviceModel`` shared with other clients), and
    channels to edge servers (given, or added by address as decisions name them)."""

    def __init__(
        self,
        model: str | DeviceModel,
        servers: Sequence[str] | str = (),
        codec: Codec | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
        granularity: str = "operator",
        input_size: int = 224,
        max_message_bytes: int = 64 * 2**20,
        uplink: TokenBucket | None = None,
        retry_s: float = 1.0,
        tls_ca: str | None = None,
        overhead: tuple[float, float] = (0.0, 0.0),
        fold_batchnorm: bool = False,
        input_shape: str | None = None,
    ) -> None:
        self.shared = (
            model
            if isinstance(model, DeviceModel)
            else DeviceModel(model, granularity, input_size, fold_batchnorm, input_shape)
        )
        self.spec = self.shared.spec
        self.model, self.example, self.graph = (
            self.shared.model, self.shared.example, self.shared.graph
        )  # fmt: skip
        self.codec = codec or Codec()
        self.timeout_s = timeout_s
        self.uplink = uplink
        self.retry_s = retry_s
        self.security = Security(token, tls_ca=tls_ca)
        self.metadata = self.security.metadata
        self.max_message_bytes = max_message_bytes
        self.addresses: list[str] = []
        self.channels: list[grpc.Channel] = []
        self._calls: list[grpc.UnaryUnaryMultiCallable] = []  # a task's method on each server
        self.oip: list[bool] = []  # whether a server speaks the Open Inference Protocol
        self._retry_at: list[float] = []
        for address in [servers] if isinstance(servers, str) else list(servers):
            self.server_index(address)
        self.overhead = overhead  # (seconds per request, per bit): not the link's rate
        self.uplink_bps: float | None = None
        self._samples: collections.deque[float] = collections.deque(maxlen=RATE_SAMPLES)
        self._ids = itertools.count(1)

    def server_index(self, address: str) -> int:
        """The index of the server at ``address``, its channel opened on first use."""
        if address in self.addresses:
            return self.addresses.index(address)
        self.addresses.append(address)
        speaks_oip = address.startswith(SCHEME)
        channel = open_channel(
            address.removeprefix(SCHEME), self.security, self.max_message_bytes, self.retry_s
        )
        self.channels.append(channel)
        self._calls.append(channel.unary_unary(INFER if speaks_oip else RUN))  # made once
        self.oip.append(speaks_oip)
        self._retry_at.append(0.0)
        return len(self.addresses) - 1

    def close(self) -> None:
        for channel in self.channels:
            channel.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cut_count(self) -> int:
        return self.shared.cut_count

    def halves(self, cut: int) -> tuple[Any, Any]:
        """The head and tail of cut ``cut`` (0-based), split once and kept."""
        return self.shared.halves(cut)

    def _position(self, cut: Cut | int) -> int:
        if isinstance(cut, Cut):
            if cut.graph is not self.graph:
                raise InvalidParameterError(
                    "cut", repr(cut), "a cut of this client's graph (client.graph)"
                )
            return cut.index
        if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut < self.cut_count:
            raise InvalidParameterError(
                "cut", cut, f"a 0-based cut position 0..{self.cut_count - 1} or a Cut"
            )
        return cut

    # -- one task ------------------------------------------------------------------------------

    def run(
        self,
        x: torch.Tensor,
        cut: Cut | int,
        threads: int = 0,
        server: int = 0,
        codec: Codec | None = None,
        exit: EarlyExit | None = None,
    ) -> tuple[Any, TaskRecord]:
        """The model's output for ``x`` split at ``cut`` (a Cut of ``self.graph`` or its 0-based
        position), the tail on server ``server`` with ``threads`` (0: all the server's), or all
        here when the cut is all-local. A bottleneck codec and an ``exit`` must be at ``cut``:
        the rows the exit is confident of are answered here and not sent."""
        position = self._position(cut)
        if not 0 <= server < max(len(self.channels), 1):
            raise InvalidParameterError("server", server, f"0..{len(self.channels) - 1}")
        codec = codec or self.codec
        bottleneck = self.shared.bottleneck(codec.bottleneck) if codec.learned else None
        taken = self.shared.exit(exit.name) if exit is not None else None
        named = ((f"codec {codec}", bottleneck), (f"exit {exit and exit.name}", taken))
        for what, learned in named:
            if learned is not None and learned.position != position:
                raise InvalidParameterError(
                    "cut", position, f"cut {learned.position}, where the {what} was trained"
                )
        head, tail = self.halves(position)
        with torch.no_grad():
            start = perf_counter()
            handed_over = head(x)
            head_s = perf_counter() - start
        if taken is None:
            return self._dispatch(tail, handed_over, position, threads, server, codec, head_s)
        start = perf_counter()
        with torch.no_grad():
            logits = taken.module(handed_over[0])
            confident = confidence(logits) >= exit.threshold
        exit_s, exited = perf_counter() - start, int(confident.sum())
        if exited == len(confident):  # every row answered here: nothing is sent
            return logits, TaskRecord(position, None, str(codec), None, head_s, exit_s=exit_s,
                                      exited=exited)  # fmt: skip
        if exited:
            handed_over = tuple(t[~confident] for t in handed_over)
        output, record = self._dispatch(tail, handed_over, position, threads, server, codec, head_s)
        if exited:
            output = logits.index_put((~confident,), output.to(logits.dtype))
        return output, replace(record, exit_s=exit_s, exited=exited)

    def _dispatch(self, tail, handed_over, position, threads, server, codec, head_s):
        """The tail of what the head handed over: here, or on ``server``."""
        if position == self.cut_count - 1:
            return self._local(tail, handed_over, position, str(codec), head_s, None)
        if time.monotonic() < self._retry_at[server]:
            return self._local(tail, handed_over, position, str(codec), head_s, "UNAVAILABLE")
        return self._offload(tail, handed_over, position, threads, server, codec, head_s)

    def _offload(self, tail, handed_over, position, threads, server, codec, head_s):
        start = perf_counter()
        cut_id = self.shared.cut_id(position)
        request_id = next(self._ids)
        note = None
        oip = self.oip[server]
        if oip and not codec.learned and codec != Codec():
            note = f"{codec} asked; fp32 sent: the Open Inference Protocol carries raw tensors"
            codec = Codec()
        elif codec.name != "fp32" and not all(
            bool(torch.isfinite(t).all()) for t in handed_over if t.is_floating_point()
        ):  # a lossy codec would change nan and inf (encode refuses): they travel exactly
            note = f"{codec} asked; fp32 sent: the head's output holds nan or inf"
            codec = Codec("fp32", codec.zstd)
        where = (self.spec, self.shared.granularity, self.graph, self.graph.cut(position))
        described = Tail(*where)
        try:
            sent: list[Any] = list(handed_over)
            if codec.learned:  # the latents, coded here under the bottleneck's prior
                learned = self.shared.bottleneck(codec.bottleneck)
                described = LatentTail(*where, learned.info.name)
                sent, cut_id = self._latents(learned.module, handed_over[0], oip), learned.cut_id
            if oip:
                request = infer_request(described, sent, threads, str(request_id))
            else:
                request = pack(
                    REQUEST, wire_id(self.spec), cut_id, request_id, sent, codec, threads
                )
        except EdgesplitError as error:  # what crosses this cut cannot travel: run it here
            why = f"not sent ({error})"
            return self._local(tail, handed_over, position, str(codec), head_s, why)
        encode_s = perf_counter() - start
        sent = perf_counter()  # the time a failed attempt costs counts in the task's latency
        try:
            start = perf_counter()
            shaped_s = self.uplink.take(8 * len(request), self.timeout_s) if self.uplink else 0.0
            if shaped_s is None:  # the upload outlasts the deadline on the shaped link
                return self._local(
                    tail, handed_over, position, str(codec), head_s, "DEADLINE_EXCEEDED",
                    encode_s, perf_counter() - sent,
                )  # fmt: skip
            reply, call = self._calls[server].with_call(
                request, timeout=self.timeout_s, metadata=self.metadata
            )
            round_trip_s = perf_counter() - start
            start = perf_counter()
            if oip:
                limit_bytes = 8 * self.max_message_bytes
                tensors = infer_outputs(reply, described, str(request_id), limit_bytes)
            else:
                message = unpack(reply)
                if message.kind != REPLY or message.request_id != request_id:
                    raise WireError("the reply does not answer this request")
                tensors = list(message.tensors)
            output = tree_unflatten(tensors, self.shared.output_spec)
            decode_s = perf_counter() - start
        except grpc.RpcError as error:
            why = error.code().name
            if why in UNREACHABLE:
                self._retry_at[server] = time.monotonic() + self.retry_s
            lost_s = perf_counter() - sent
            return self._local(
                tail, handed_over, position, str(codec), head_s, why, encode_s, lost_s
            )
        except (WireError, OIPError, ValueError, TypeError) as error:
            why = f"malformed reply ({error})"
            lost_s = perf_counter() - sent
            return self._local(
                tail, handed_over, position, str(codec), head_s, why, encode_s, lost_s
            )
        trailer = {k: v for k, v in (call.trailing_metadata() or ())}
        queue_s = float(trailer.get("queue-seconds", 0.0))
        tail_s = float(trailer.get("tail-seconds", 0.0))
        server_codec_s = float(trailer.get("codec-seconds", 0.0))
        transfer_s = max(round_trip_s - queue_s - tail_s - server_codec_s, 0.0)
        self._observe(len(request), transfer_s, shaped_s)
        self._retry_at[server] = 0.0
        record = TaskRecord(
            position, server, str(codec), None, head_s, encode_s + server_codec_s + decode_s,
            transfer_s, queue_s, tail_s, len(request), int(trailer.get("tail-threads", threads)),
            note,
        )  # fmt: skip
        return output, record

    @staticmethod
    def _latents(bottleneck: Any, crossing: torch.Tensor, oip: bool) -> list[Any]:
        """The bottleneck's coded latents of ``crossing``: one ``Encoded`` tensor of the whole
        batch on the raw path, each image's bytes (a BYTES input) under the protocol."""
        with torch.no_grad():
            latents = bottleneck.quantize(crossing)
        if oip:
            return [[encode_latents(bottleneck, row) for row in latents.split(1)]]
        payload = encode_latents(bottleneck, latents)
        return [Encoded(torch.int8, tuple(latents.shape), LATENTS, payload)]

    def _local(self, tail, handed_over, position, codec, head_s, why, codec_s=0.0, lost_s=0.0):
        """The tail run here; ``lost_s``: the time a failed attempt to offload took (its
        transfer, as the record counts it)."""
        start = perf_counter()
        with torch.no_grad():
            output = tail(*handed_over)
        tail_s = perf_counter() - start
        record = TaskRecord(position, None, codec, why, head_s, codec_s, lost_s, tail_s=tail_s)
        return output, record

    # -- the uplink ------------------------------------------------------------------------------

    def _observe(self, sent_bytes: int, seconds: float, shaped_s: float) -> None:
        """Fold one task's transfer into the uplink estimate, less the runtime's own part
        (``overhead``: a request's fixed seconds and seconds per bit, as the link profile prices
        them), so that the estimate is the rate the cost model's bits / rate term takes."""
        request_s, per_bit_s = self.overhead
        self._fold(sent_bytes, max(seconds - request_s - per_bit_s * 8 * sent_bytes, shaped_s))

    def _fold(self, sent_bytes: int, link_s: float) -> None:
        """The estimate: the median of the last ``RATE_SAMPLES`` samples of seconds per bit (the
        quantity the cost model's bits / rate adds up; a median follows a step of the link
        within two samples and ignores one transfer that was mostly overhead)."""
        if link_s <= 0:
            return  # all overhead: nothing learnt about the rate
        self._samples.append(link_s / (8 * sent_bytes))
        self.uplink_bps = 1.0 / statistics.median(self._samples)

    def probe(self, size_bytes: int = 65_536, server: int = 0) -> float | None:
        """Measure the uplink when no task went out: an empty request (the path's fixed time),
        then ``size_bytes`` (that time more); the difference is the link's for those bytes.
        Returns the estimate (None when the server did not answer)."""
        call = self.channels[server].unary_unary(PROBE)
        try:
            start = perf_counter()
            call(b"", timeout=self.timeout_s, metadata=self.metadata)
            fixed_s = perf_counter() - start
            start = perf_counter()
            shaped_s = self.uplink.take(8 * size_bytes) if self.uplink else 0.0
            call(bytes(size_bytes), timeout=self.timeout_s, metadata=self.metadata)
            seconds = perf_counter() - start
        except grpc.RpcError:
            return None
        self._fold(size_bytes, max(seconds - fixed_s, shaped_s))
        return self.uplink_bps

    def connected(self, server: int = 0, timeout_s: float = 10.0) -> bool:
        """Wait until the channel to ``server`` is connected (at most ``timeout_s``)."""
        try:
            grpc.channel_ready_future(self.channels[server]).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            return False
        return True

    def server_state(self, server: int = 0) -> dict[str, Any] | None:
        """The server's state (queue, threads in use, cores), or None if it does not answer."""
        return _state(self.channels[server], self.metadata, self.timeout_s)


def _state(channel: grpc.Channel, metadata: tuple, timeout_s: float) -> dict[str, Any] | None:
    import json

    try:
        reply = channel.unary_unary(STATE)(b"", timeout=timeout_s, metadata=metadata)
    except grpc.RpcError:
        return None
    return json.loads(reply)


def server_state(
    address: str, token: str | None = None, timeout_s: float = 1.0
) -> dict[str, Any] | None:
    """The state of the server at ``address`` (None if it does not answer)."""
    metadata = Security(token).metadata
    with grpc.insecure_channel(address) as channel:
        return _state(channel, metadata, timeout_s)


def healthy(address: str, timeout_s: float = 0.5) -> bool:
    """Whether the server at ``address`` answers gRPC's health check with SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING
