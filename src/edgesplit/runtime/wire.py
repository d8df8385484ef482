"""The wire format of the data plane: a fixed 52-byte message header, then per tensor a fixed
44-byte header, zero padding up to a 64-byte boundary, and its encoded bytes
(``compress.codecs``). No pickle, no protobuf field around the tensor bytes: a message is parsed
by ``struct`` and checked field by field, and a malformed one raises ``WireError`` naming what
is wrong.

Message header (little-endian): magic ``ESPL``, format version, kind (request or reply), tensor
count, model id and cut id (64-bit BLAKE2b of the model's name and of the cut's portable key),
request id, the number of bytes after the header, the XXH3-64 of the whole message but this
field, the tail's threads.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import xxhash

from edgesplit.compress.codecs import (
    DECODE_LIMIT_BYTES,
    DTYPE_IDS,
    Codec,
    Encoded,
    decode,
    encode,
)
from edgesplit.errors import EdgesplitError

MAGIC = b"ESPL"
VERSION = 1
REQUEST, REPLY = 1, 2
HEADER = struct.Struct("<4sBBHQQQQQHH")  # 52 bytes
_CHECKSUM_AT = 40  # the checksum's offset in the header (8 bytes)
TENSOR = struct.Struct("<BBBB8IQ")  # dtype, codec, ndim, reserved, 8 dims, bytes: 44 bytes
MAX_TENSORS = 64
ALIGN = 64
MAX_DIMS = 8
_NO_DIMS = (0,) * MAX_DIMS  # a header's unused dimensions
_ZEROS = bytes(ALIGN)  # padding
_DEFAULT_CODEC = Codec()  # fp32, no zstd


class WireError(EdgesplitError):
    """A message that is not what the wire format says (the reason names the field)."""


def wire_id(text: str) -> int:
    """The 64-bit id of a model name or a cut key on the wire."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def bottleneck_cut_id(cut_key: str, name: str) -> int:
    """The wire id of the cut ``cut_key`` crossed through the bottleneck called ``name``: what
    the server runs there is the bottleneck's decoder, then the tail."""
    return wire_id(f"{cut_key}|bottleneck:{name}")


# a bottleneck's decoder of its latents: (payload, the shape the header declares, the largest
# tensor it may make) -> int8 latents
LatentDecoder = Callable[[bytes | memoryview, tuple[int, ...], int], torch.Tensor]


@dataclass(frozen=True)
class Message:
    kind: int
    model_id: int
    cut_id: int
    request_id: int
    threads: int
    tensors: tuple[torch.Tensor, ...]


def pack(
    kind: int,
    model_id: int,
    cut_id: int,
    request_id: int,
    tensors: Sequence[torch.Tensor | Encoded],
    codec: Codec | None = None,
    threads: int = 0,
) -> bytes:
    """One message: the header, then each tensor's header and bytes (``codec``: fp32 if None;
    an ``Encoded`` tensor travels as its sender coded it)."""
    codec = codec or _DEFAULT_CODEC
    if len(tensors) > MAX_TENSORS:
        raise WireError(f"{len(tensors)} tensors in one message: at most {MAX_TENSORS}")
    parts: list[bytes | memoryview] = []
    offset = HEADER.size
    for tensor in tensors:
        ndim, dtype_id = tensor.dim(), DTYPE_IDS.get(tensor.dtype)
        if ndim > MAX_DIMS or dtype_id is None:
            raise WireError(
                f"a tensor of {ndim} dims and {tensor.dtype}: the wire carries at most "
                f"{MAX_DIMS} dims of {', '.join(str(d) for d in DTYPE_IDS)}"
            )
        if isinstance(tensor, Encoded):
            applied, data = tensor.wire_id, tensor.data
        else:
            applied, data = encode(tensor, codec)
        padding = _padding(offset + TENSOR.size)
        dims = (*tensor.shape, *_NO_DIMS[ndim:])
        described = TENSOR.pack(dtype_id, applied, ndim, 0, *dims, len(data))
        parts += (described + _ZEROS[:padding], data)
        offset += TENSOR.size + padding + len(data)
    length = offset - HEADER.size
    fields = (MAGIC, VERSION, kind, len(tensors), model_id, cut_id, request_id, length)
    checksum = _checksum(HEADER.pack(*fields, 0, threads, 0), parts)
    return b"".join([HEADER.pack(*fields, checksum, threads, 0), *parts])  # the one copy


def _checksum(header: bytes | memoryview, body: Sequence[bytes | memoryview]) -> int:
    """XXH3-64 of a message (its header and the parts of its body) but the checksum field
    (XXH3 runs at tens of GB/s; CRC-32 took 1.2 ms of the fp32 path's budget for 3.2 MB)."""
    head = memoryview(header)
    digest = xxhash.xxh3_64(head[:_CHECKSUM_AT])
    digest.update(head[_CHECKSUM_AT + 8 : HEADER.size])
    for part in body:
        digest.update(part)
    return digest.intdigest()


def _padding(offset: int) -> int:
    """Zero bytes before a tensor's data so that it starts on an ``ALIGN``-byte boundary of the
    message: kernels read aligned data the same way wherever it was decoded (unaligned rows
    changed the last bits of a Linear layer's sums in one test)."""
    return -offset % ALIGN


def routing(data: bytes) -> tuple[int, int, int]:
    """(model id, cut id, threads) as a request's header states them, unchecked (zeros where the
    message is too short to hold them): what a server needs before a lane checks the message."""
    if len(data) < HEADER.size:
        return 0, 0, 0
    fields = HEADER.unpack_from(data)
    return fields[4], fields[5], fields[9]


def _header(data: bytes) -> tuple:
    if len(data) < HEADER.size:
        raise WireError(f"{len(data)} bytes: shorter than the {HEADER.size}-byte header")
    fields = HEADER.unpack_from(data)
    magic, version, kind, count, _, _, _, length, checksum, _, _ = fields
    if magic != MAGIC:
        raise WireError(f"magic {magic!r}: not an edgesplit message (expected {MAGIC!r})")
    if version != VERSION:
        raise WireError(f"format version {version}: this edgesplit speaks version {VERSION}")
    if kind not in (REQUEST, REPLY):
        raise WireError(f"message kind {kind}: request ({REQUEST}) or reply ({REPLY})")
    if count > MAX_TENSORS:
        raise WireError(f"{count} tensors: at most {MAX_TENSORS}")
    if length != len(data) - HEADER.size:
        raise WireError(
            f"the header announces {length} bytes after it, {len(data) - HEADER.size} came"
        )
    view = memoryview(data)
    if _checksum(view[: HEADER.size], [view[HEADER.size :]]) != checksum:
        raise WireError("checksum mismatch: the bytes changed on the way")
    return fields


def unpack(
    data: bytes,
    limit_bytes: int = DECODE_LIMIT_BYTES,
    latents: Mapping[int, LatentDecoder] | None = None,
) -> Message:
    """The message in ``data``, every field checked before anything is allocated (no tensor
    larger than ``limit_bytes``); a bottleneck's latents are decoded by ``latents``' decoder of
    the message's cut id (refused when it has none)."""
    _, _, kind, count, model_id, cut_id, request_id, _, _, threads, _ = _header(data)
    decoder = (latents or {}).get(cut_id)
    view, offset, tensors = memoryview(data), HEADER.size, []
    for i in range(count):
        if offset + TENSOR.size > len(data):
            raise WireError(f"tensor {i}: its header runs past the message")
        described = TENSOR.unpack_from(data, offset)
        dtype_id, codec_id, ndim, dims, nbytes = *described[:3], described[4:-1], described[-1]
        offset += TENSOR.size
        offset += _padding(offset)
        if ndim > MAX_DIMS or any(dims[ndim:]):
            raise WireError(f"tensor {i}: {ndim} dims ({list(dims)}): at most {MAX_DIMS}")
        if offset + nbytes > len(data):
            raise WireError(f"tensor {i}: {nbytes} bytes announced, {len(data) - offset} left")
        try:
            payload = view[offset : offset + nbytes]
            tensor = decode(payload, codec_id, dtype_id, dims[:ndim], limit_bytes, decoder)
        except EdgesplitError as error:
            raise WireError(f"tensor {i}: {error}") from None
        tensors.append(tensor)
        offset += nbytes
    if offset != len(data):
        raise WireError(f"{len(data) - offset} bytes left after the last tensor")
    return Message(kind, model_id, cut_id, request_id, threads, tuple(tensors))
