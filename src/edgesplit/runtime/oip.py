"""The Open Inference Protocol (OIP, "KServe v2") on an edge server, beside edgesplit's own data
plane: any OIP client (tritonclient, KServe's and MLServer's clients, curl-like tools) can ask
what the server hosts and run a tail.

A tail is a model named ``<model>.<granularity>.cut-<n>``: the hosted model, a granularity the
server answers, and the cut's index at that granularity, as ``edgesplit graph`` and
``plan`` show cuts (e.g. ``resnet18.block.cut-3``); a model given by a file
(``path/file.py:Net``) is named by its factory (``Net.block.cut-3``). Its metadata lists its
inputs (the tensors crossing the cut, by their names in the traced graph, then the model
outputs the head computed) and its outputs with their dtypes and shapes at the server's input
size. ModelInfer takes the inputs as ``raw_input_contents`` (or typed ``contents``), checks
them as the raw path checks its messages (dtype, shape in Python integers, size, the server's
limit), and runs them through the same admission, lanes and metrics; the parameter ``threads``
(int64) asks for a thread count. The messages come from the protocol's own proto
(``runtime/proto/oip.proto``, compiled to ``data/oip.binpb`` by ``make proto``) loaded into a
private descriptor pool, so that a process may import tritonclient's copy of the same package
too. Token and TLS apply as on the raw path (one gRPC server, one port).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import grpc

from edgesplit import __version__
from edgesplit.compress.bottleneck import Bottleneck, BottleneckInfo, wire_latents
from edgesplit.compress.codecs import DTYPE_IDS, from_raw, raw_bytes
from edgesplit.errors import EdgesplitError
from edgesplit.graph.zoo import load_traced

if TYPE_CHECKING:
    from edgesplit.graph import Cut, ModelGraph
    from edgesplit.runtime.server import EdgeServer, ServerConfig

SERVICE = "inference.GRPCInferenceService"
# OIP datatype <-> torch dtype name
DATATYPES = {
    "FP32": "float32", "FP16": "float16", "BF16": "bfloat16", "FP64": "float64",
    "INT64": "int64", "INT32": "int32", "INT8": "int8", "UINT8": "uint8", "BOOL": "bool",
}  # fmt: skip
OIP_TYPES = {torch_name: oip for oip, torch_name in DATATYPES.items()}
CONTENTS = {  # the typed ``contents`` field of each datatype
    "FP32": "fp32_contents", "FP64": "fp64_contents", "INT64": "int64_contents",
    "INT32": "int_contents", "INT8": "int_contents", "UINT8": "uint_contents",
    "BOOL": "bool_contents",
}  # fmt: skip
MESSAGES = (
    "ServerLiveRequest", "ServerLiveResponse", "ServerReadyRequest", "ServerReadyResponse",
    "ModelReadyRequest", "ModelReadyResponse", "ServerMetadataRequest", "ServerMetadataResponse",
    "ModelMetadataRequest", "ModelMetadataResponse", "ModelInferRequest", "ModelInferResponse",
)  # fmt: skip


class OIPError(EdgesplitError):
    """A request the protocol layer refuses; ``code`` is its gRPC status."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@functools.cache
def messages() -> dict[str, Any]:
    """The protocol's message classes, from a descriptor pool of their own."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    data = resources.files("edgesplit.data").joinpath("oip.binpb").read_bytes()
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"inference.{name}"))
        for name in MESSAGES
    }


def short_name(spec: str) -> str:
    """A hosted model's name in tail names: the zoo name (or variant) as given, a file's model
    by its factory."""
    if ":" not in spec:
        return spec
    return spec.split(":")[1]


def tail_name(spec: str, granularity: str, position: int) -> str:
    """The OIP model name of the tail after cut ``position`` of ``spec``."""
    return f"{short_name(spec)}.{granularity}.cut-{position}"


@dataclass(frozen=True)
class Tail:
    """One named tail: its model, graph and cut."""

    spec: str
    granularity: str
    graph: ModelGraph
    cut: Cut

    @property
    def name(self) -> str:
        """Its model name under the protocol (``tail_name``)."""
        return tail_name(self.spec, self.granularity, self.cut.index)

    @property
    def inputs(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(name, OIP datatype, shape) of each tensor the tail takes, in order."""
        values = {v.name: v for v in self.graph.values}
        names = [*self.cut.crossing, *self.cut.device_outputs]
        return [(n, OIP_TYPES[str(values[n].dtype)], tuple(values[n].shape)) for n in names]

    @property
    def outputs(self) -> list[tuple[str, str, tuple[int, ...]]]:
        return [
            (v.name, OIP_TYPES[str(v.dtype)], tuple(v.shape)) for v in self.graph.values
            if v.to_output
        ]  # fmt: skip


LATENTS = "latents"  # a bottleneck tail's one input


@dataclass(frozen=True)
class LatentTail(Tail):
    """A bottleneck's tail (``compress.bottleneck``): its decoder, then the model's tail after
    the bottleneck's cut. It is named by the bottleneck and takes one BYTES input, ``latents``,
    each element one image's coded latents (``encode_latents``: a tag byte, then range words
    or zstd)."""

    bottleneck: str

    @property
    def name(self) -> str:
        return self.bottleneck

    @property
    def inputs(self) -> list[tuple[str, str, tuple[int, ...]]]:
        return [(LATENTS, "BYTES", (1,))]


def bytes_elements(request: Any, count: int) -> list[bytes]:
    """The ``count`` elements of a BYTES input: ``raw_input_contents``' first entry (each
    element a 4-byte little-endian length, then its bytes, as the protocol serializes BYTES) or
    the typed ``bytes_contents``; refused unless they are exactly ``count`` elements."""
    if not request.raw_input_contents:
        elements = list(request.inputs[0].contents.bytes_contents)
    else:
        raw, elements, offset = bytes(request.raw_input_contents[0]), [], 0
        while offset < len(raw) and len(elements) < count:
            if offset + 4 > len(raw):
                break
            size = int.from_bytes(raw[offset : offset + 4], "little")
            elements.append(raw[offset + 4 : offset + 4 + size])
            offset += 4 + size
        if offset != len(raw):
            raise OIPError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input 0 ({LATENTS}): {len(raw)} raw bytes that are not {count} length-prefixed "
                "BYTES elements",
            )  # fmt: skip
    if len(elements) != count:
        raise OIPError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input 0 ({LATENTS}): {len(elements)} BYTES elements for shape [{count}]",
        )
    return elements


def bytes_contents(elements: list[bytes]) -> bytes:
    """BYTES elements as ``raw_input_contents`` carries them (``bytes_elements``' inverse)."""
    return b"".join(len(e).to_bytes(4, "little") + e for e in elements)


class Catalog:
    """The tails a server answers, by name (graphs traced once per model and granularity, in
    the server's process, when first asked for), and its bottlenecks' tails by their names."""

    def __init__(
        self,
        models: tuple[str, ...],
        granularities: tuple[str, ...],
        input_size: int,
        bottlenecks: tuple[tuple[Bottleneck, BottleneckInfo], ...] = (),
        input_shape: str | None = None,
    ):
        self.models = {short_name(spec): spec for spec in models}
        self.granularities = granularities
        self.input_size = input_size
        self.input_shape = input_shape
        self.bottlenecks = {info.name: (b, info) for b, info in bottlenecks}

    @functools.lru_cache(maxsize=32)  # noqa: B019 (one catalog per server, as long)
    def graph(self, spec: str, granularity: str) -> ModelGraph:
        return load_traced(spec, granularity, self.input_size, self.input_shape)[2]

    def tail(self, name: str) -> Tail:
        """The tail called ``name``, or OIPError NOT_FOUND saying what is hosted."""
        if name in self.bottlenecks:
            info = self.bottlenecks[name][1]
            graph = self.graph(info.model, info.granularity)
            return LatentTail(info.model, info.granularity, graph, graph.cut(info.cut), name)
        model, granularity, cut = [*name.rsplit(".", 2), "", ""][:3]
        hosted = ", ".join(self.models)
        named = f", or by a bottleneck: {', '.join(self.bottlenecks)}" if self.bottlenecks else ""
        if model not in self.models or granularity not in self.granularities:
            raise OIPError(
                grpc.StatusCode.NOT_FOUND,
                f"no model {name!r}: tails are named <model>.<granularity>.cut-<n> with model one "
                f"of {hosted} and granularity one of {', '.join(self.granularities)}{named}",
            )
        graph = self.graph(self.models[model], granularity)
        count = len(graph.cuts())
        number = cut.removeprefix("cut-")
        if not cut.startswith("cut-") or not number.isdigit() or not int(number) < count - 1:
            raise OIPError(
                grpc.StatusCode.NOT_FOUND,
                f"no model {name!r}: {model} at {granularity} has cuts cut-0 to cut-{count - 2} "
                f"with a tail (cut-{count - 1} runs everything on the device)",
            )
        return Tail(self.models[model], granularity, graph, graph.cut(int(number)))


def input_tensors(request: Any, tail: Tail, limit_bytes: int) -> list[Any]:
    """The request's inputs as tensors, each checked against the tail's input (name order,
    datatype, shape) and ``limit_bytes`` before anything is allocated."""
    import torch

    expected = tail.inputs
    if len(request.inputs) != len(expected):
        names = ", ".join(n for n, _, _ in expected)
        raise OIPError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{len(request.inputs)} inputs: {request.model_name} takes {len(expected)} ({names})",
        )
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise OIPError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs",
        )
    tensors = []
    pairs = zip(request.inputs, expected, strict=True)
    for i, (given, (name, datatype, shape)) in enumerate(pairs):
        where = f"input {i} ({given.name or name})"
        if given.datatype != datatype:
            raise OIPError(
                grpc.StatusCode.INVALID_ARGUMENT, f"{where}: datatype {given.datatype!r}, "
                f"{datatype} expected",
            )  # fmt: skip
        dims = [int(d) for d in given.shape]
        if any(d < 1 for d in dims) or len(dims) != len(shape) or dims[1:] != list(shape[1:]):
            raise OIPError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: shape {dims}, [N, {', '.join(map(str, shape[1:]))}] expected (N >= 1)",
            )
        dtype = getattr(torch, DATATYPES[datatype])
        nbytes = math.prod(dims) * dtype.itemsize
        if nbytes > limit_bytes:
            raise OIPError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: {nbytes} bytes, at most {limit_bytes} on this server",
            )
        if raw:
            if len(raw[i]) != nbytes:
                raise OIPError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where}: {len(raw[i])} raw bytes, {nbytes} for shape {dims} of {datatype}",
                )
            tensors.append(from_raw(raw[i], dtype, tuple(dims), math.prod(dims)))
            continue
        field = CONTENTS.get(datatype)
        values = list(getattr(given.contents, field)) if field else []
        if len(values) != math.prod(dims):
            raise OIPError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: {len(values)} values in contents, {math.prod(dims)} for shape {dims}"
                + ("" if field else f" ({datatype} travels as raw_input_contents only)"),
            )
        tensors.append(torch.tensor(values, dtype=dtype).reshape(dims))
    return tensors


def decoded_latents(request: Any, bottleneck: Bottleneck, config: ServerConfig) -> list[Any]:
    """A bottleneck tail's input: its BYTES elements decoded image by image under the
    bottleneck's prior, as one int8 tensor of latents (N x C x H x W)."""
    import torch

    if len(request.inputs) != 1 or request.inputs[0].datatype != "BYTES":
        raise OIPError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{request.model_name} takes one BYTES input ({LATENTS}): each element one image's "
            "coded latents",
        )  # fmt: skip
    dims = [int(d) for d in request.inputs[0].shape]
    if len(dims) != 1 or dims[0] < 1:
        raise OIPError(
            grpc.StatusCode.INVALID_ARGUMENT, f"input 0 ({LATENTS}): shape {dims}, [N] expected"
        )
    one = (1, *bottleneck.latent_shape)
    limit = config.decode_limit_bytes // dims[0]
    try:
        rows = [
            wire_latents(bottleneck, element, one, limit)
            for element in bytes_elements(request, dims[0])
        ]
    except EdgesplitError as error:
        raise OIPError(grpc.StatusCode.INVALID_ARGUMENT, f"input 0 ({LATENTS}): {error}") from None
    return [torch.cat(rows)]


def oip_handler(server: EdgeServer) -> grpc.GenericRpcHandler:
    """The protocol's six RPCs for ``server`` (its ``run`` does the work of ModelInfer)."""
    m = messages()
    config = server.config
    catalog = Catalog(
        config.models, config.granularities, config.input_size, tuple(server.bottlenecks),
        config.input_shape,
    )  # fmt: skip

    def guarded(function):
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return function(request, context)
            except OIPError as error:
                context.abort(error.code, str(error))
            except EdgesplitError as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))

        return call

    def live(request: Any, context: grpc.ServicerContext) -> Any:
        return m["ServerLiveResponse"](live=True)

    def ready(request: Any, context: grpc.ServicerContext) -> Any:
        return m["ServerReadyResponse"](ready=server.serving)

    def metadata(request: Any, context: grpc.ServicerContext) -> Any:
        return m["ServerMetadataResponse"](name="edgesplit", version=__version__, extensions=[])

    def model_ready(request: Any, context: grpc.ServicerContext) -> Any:
        catalog.tail(request.name)
        return m["ModelReadyResponse"](ready=server.serving)

    def model_metadata(request: Any, context: grpc.ServicerContext) -> Any:
        tail = catalog.tail(request.name)
        described = m["ModelMetadataResponse"].TensorMetadata

        def listed(tensors: list[tuple[str, str, tuple[int, ...]]]) -> list[Any]:
            return [described(name=n, datatype=d, shape=[-1, *s[1:]]) for n, d, s in tensors]

        return m["ModelMetadataResponse"](
            name=request.name, versions=["1"], platform="edgesplit_torch_fx",
            inputs=listed(tail.inputs), outputs=listed(tail.outputs),
        )  # fmt: skip

    def infer(request: Any, context: grpc.ServicerContext) -> Any:

        from edgesplit.runtime.wire import REQUEST, bottleneck_cut_id, pack, unpack, wire_id

        tail = catalog.tail(request.model_name)
        asked = request.parameters.get("threads")
        threads = int(asked.int64_param) if asked is not None else 0
        if threads < 0:
            raise OIPError(grpc.StatusCode.INVALID_ARGUMENT, f"threads {threads}: at least 0")
        if isinstance(tail, LatentTail):
            tensors = decoded_latents(request, catalog.bottlenecks[tail.name][0], config)
            cut_id = bottleneck_cut_id(tail.graph.fx_key(tail.cut), tail.name)
        else:
            tensors = input_tensors(request, tail, config.decode_limit_bytes)
            cut_id = wire_id(tail.graph.fx_key(tail.cut))
        if any(t.dtype not in DTYPE_IDS for t in tensors):
            raise OIPError(grpc.StatusCode.INVALID_ARGUMENT, "a datatype the tail cannot take")
        message = pack(REQUEST, wire_id(tail.spec), cut_id, 0, tensors, threads=threads)
        outputs = unpack(server.run(message, context)).tensors
        names = [n for n, _, _ in tail.outputs]
        if len(names) != len(outputs):
            names = [f"output-{i}" for i in range(len(outputs))]
        response = m["ModelInferResponse"](
            model_name=request.model_name, model_version="1", id=request.id
        )
        for name, tensor in zip(names, outputs, strict=True):
            response.outputs.add(
                name=name, datatype=OIP_TYPES[str(tensor.dtype).removeprefix("torch.")],
                shape=list(tensor.shape),
            )  # fmt: skip
            response.raw_output_contents.append(bytes(raw_bytes(tensor)))
        return response

    handlers = {
        "ServerLive": (live, "ServerLiveRequest"),
        "ServerReady": (ready, "ServerReadyRequest"),
        "ServerMetadata": (metadata, "ServerMetadataRequest"),
        "ModelReady": (model_ready, "ModelReadyRequest"),
        "ModelMetadata": (model_metadata, "ModelMetadataRequest"),
        "ModelInfer": (infer, "ModelInferRequest"),
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            method: grpc.unary_unary_rpc_method_handler(
                guarded(function),
                request_deserializer=m[kind].FromString,
                response_serializer=lambda message: message.SerializeToString(),
            )
            for method, (function, kind) in handlers.items()
        },
    )


# -- the client side: a device offloading to any OIP server ---------------------------------------

INFER = f"/{SERVICE}/ModelInfer"
SCHEME = "oip://"


def infer_request(tail: Tail, tensors: list[Any], threads: int, request_id: str) -> bytes:
    """A serialized ModelInferRequest of ``tensors`` (raw contents, under the names of the
    tail's inputs, which a server hosting an exported tail feeds by name) for ``tail``; a BYTES
    input is given as a list of byte strings."""
    request = messages()["ModelInferRequest"](model_name=tail.name, id=request_id)
    for (input_name, datatype, _), tensor in zip(tail.inputs, tensors, strict=True):
        if datatype == "BYTES":  # a list of byte strings, one per image
            request.inputs.add(name=input_name, datatype=datatype, shape=[len(tensor)])
            request.raw_input_contents.append(bytes_contents(tensor))
            continue
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in OIP_TYPES:
            raise OIPError(grpc.StatusCode.INVALID_ARGUMENT, f"{tensor.dtype} has no OIP datatype")
        request.inputs.add(name=input_name, datatype=OIP_TYPES[dtype], shape=list(tensor.shape))
        request.raw_input_contents.append(bytes(raw_bytes(tensor.detach().cpu())))
    if threads:
        request.parameters["threads"].int64_param = threads
    return request.SerializeToString()


def infer_outputs(reply: bytes, tail: Tail, request_id: str, limit_bytes: int) -> list[Any]:
    """The output tensors of a serialized ModelInferResponse, checked (it answers
    ``request_id``; every output's datatype, shape and size) before anything is allocated, in
    the order of the tail's outputs: by name where the reply uses their names, else as
    given (a server may rename outputs, as Triton's PyTorch backend does)."""
    import torch
    from google.protobuf.message import DecodeError

    try:
        response = messages()["ModelInferResponse"].FromString(reply)
    except DecodeError as error:
        raise OIPError(grpc.StatusCode.INTERNAL, f"not a ModelInferResponse ({error})") from None
    if response.id and response.id != request_id:
        raise OIPError(grpc.StatusCode.INTERNAL, "the reply does not answer this request")
    raw = list(response.raw_output_contents)
    if len(raw) != len(response.outputs):
        raise OIPError(
            grpc.StatusCode.INTERNAL,
            f"{len(raw)} raw_output_contents for {len(response.outputs)} outputs",
        )
    pairs = list(zip(response.outputs, raw, strict=True))
    names = [name for name, _, _ in tail.outputs]
    if len(pairs) != len(names):
        raise OIPError(
            grpc.StatusCode.INTERNAL, f"{len(pairs)} outputs, {len(names)} expected ({names})"
        )
    by_name = {output.name: (output, data) for output, data in pairs}
    if sorted(by_name) == sorted(names):
        pairs = [by_name[name] for name in names]
    tensors = []
    for output, data in pairs:
        if output.datatype not in DATATYPES:
            raise OIPError(grpc.StatusCode.INTERNAL, f"output datatype {output.datatype!r}")
        dims = [int(d) for d in output.shape]
        dtype = getattr(torch, DATATYPES[output.datatype])
        nbytes = math.prod(dims) * dtype.itemsize
        if any(d < 0 for d in dims) or nbytes > limit_bytes or len(data) != nbytes:
            raise OIPError(
                grpc.StatusCode.INTERNAL,
                f"output {output.name}: {len(data)} bytes for shape {dims} of {output.datatype}",
            )
        tensors.append(from_raw(data, dtype, tuple(dims), math.prod(dims)))
    return tensors
