"""Tensor codecs for what crosses a cut: fp32 (the raw bytes), fp16 (scaled per tensor by a power
of two, so that no value overflows or flushes to zero), int8 affine per tensor or per channel,
each optionally zstd-compressed (when zstd would make a tensor's bytes longer, they travel
uncompressed and the tensor's codec id says so). The runtime's wire format carries their output;
the compression issue measures their accuracy.

A codec turns a tensor into bytes and back, given the dtype and shape the wire header carries.
A learned bottleneck (``compress.bottleneck``) is a codec too, ``bottleneck:NAME``: the device
codes its integer latents under the bottleneck's prior (``Encoded``), and the receiving side
decodes them with the bottleneck the message's cut names (``decode``'s ``latents``).
Lossy codecs apply to finite floating tensors only; any other tensor (indices, masks) travels
raw whatever the codec asked, and a lossy codec refuses a tensor holding inf or nan. Nothing
here unpickles: bytes become arrays by their dtype.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from edgesplit.errors import InvalidParameterError

# wire ids of the dtypes a crossing tensor may have
DTYPES: dict[int, torch.dtype] = {
    0: torch.float32,
    1: torch.float16,
    2: torch.bfloat16,
    3: torch.float64,
    4: torch.int64,
    5: torch.int32,
    6: torch.uint8,
    7: torch.int8,
    8: torch.bool,
}
DTYPE_IDS = {dtype: code for code, dtype in DTYPES.items()}
CODECS = ("fp32", "fp16", "int8", "int8-channel")  # fp16 is scaled per tensor by a power of 2
_ZSTD_FLAG = 0x80  # the codec id's high bit: the encoded bytes are zstd-compressed
LATENTS = len(CODECS)  # the wire id of a bottleneck's entropy-coded int8 latents
BOTTLENECK = "bottleneck"


@dataclass(frozen=True)
class Codec:
    """How a tensor travels: ``name`` (``CODECS``) and whether zstd compresses the result, or a
    learned bottleneck (name ``bottleneck``, ``bottleneck`` its file's name or path)."""

    name: str = "fp32"
    zstd: bool = False
    bottleneck: str = ""

    def __post_init__(self) -> None:
        if self.name == BOTTLENECK:
            if not self.bottleneck or self.zstd:
                raise InvalidParameterError(
                    "codec", str(self), "bottleneck:NAME (a bottleneck's name or file; its "
                    "latents are entropy-coded already, without +zstd)",
                )  # fmt: skip
        elif self.name not in CODECS or self.bottleneck:
            raise InvalidParameterError(
                "codec", str(self), f"one of {', '.join(CODECS)} (+zstd), or bottleneck:NAME"
            )

    @property
    def learned(self) -> bool:
        """Whether it is a learned bottleneck's codec."""
        return self.name == BOTTLENECK

    @property
    def wire_id(self) -> int:
        if self.learned:
            return LATENTS
        return CODECS.index(self.name) | (_ZSTD_FLAG if self.zstd else 0)

    @classmethod
    def from_wire(cls, wire_id: int) -> Codec:
        index = wire_id & ~_ZSTD_FLAG
        if not 0 <= index < len(CODECS):
            raise InvalidParameterError("codec id", wire_id, f"0..{len(CODECS) - 1} (+128: zstd)")
        return cls(CODECS[index], bool(wire_id & _ZSTD_FLAG))

    @classmethod
    def parse(cls, text: str) -> Codec:
        """``fp16``, ``int8+zstd``, ...: a codec by its name, ``+zstd`` to compress;
        ``bottleneck:NAME`` a learned bottleneck."""
        if text.startswith(f"{BOTTLENECK}:"):
            return cls(BOTTLENECK, bottleneck=text.removeprefix(f"{BOTTLENECK}:"))
        name, _, extra = text.partition("+")
        if extra not in ("", "zstd"):
            raise InvalidParameterError(
                "codec", text, f"one of {', '.join(CODECS)} (+zstd), or bottleneck:NAME"
            )
        return cls(name, extra == "zstd")

    def __str__(self) -> str:
        if self.learned:
            return f"{BOTTLENECK}:{self.bottleneck}"
        return self.name + ("+zstd" if self.zstd else "")


@dataclass(frozen=True)
class Encoded:
    """A tensor its sender coded itself (a bottleneck's latents): what the wire header says of
    it (dtype, shape, codec id) and its bytes."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    wire_id: int
    data: bytes

    def dim(self) -> int:
        return len(self.shape)


def encode(tensor: torch.Tensor, codec: Codec) -> tuple[int, bytes | memoryview]:
    """``tensor`` as (the codec's wire id that applies, bytes). fp32 of a contiguous float32
    CPU tensor is a view of its memory (no copy). A bottleneck codes on the device that holds
    it (``Encoded``), not here."""
    if codec.learned:
        raise InvalidParameterError(
            "codec", str(codec), "a fixed codec here (a bottleneck's latents come Encoded)"
        )
    tensor = tensor.detach()
    if not tensor.is_cpu:
        tensor = tensor.cpu()
    if codec.name == "fp32" or not tensor.is_floating_point():
        if not codec.zstd:  # the common case in as few steps as it takes: each costs ~20 us cold
            return _FP32, raw_bytes(tensor)
        applied, data = Codec("fp32", True), raw_bytes(tensor)
    elif not bool(torch.isfinite(tensor).all()):
        raise InvalidParameterError(
            "codec", str(codec), "fp32 for a tensor holding inf or nan (a lossy codec would "
            "silently change them)",
        )  # fmt: skip
    elif codec.name == "fp16":
        applied, data = codec, _fp16(tensor)
    else:
        applied, data = codec, _int8(tensor, per_channel=codec.name == "int8-channel")
    if applied.zstd:
        import zstandard

        packed = zstandard.ZstdCompressor(level=1).compress(data)
        if len(packed) < len(data):
            return applied.wire_id, packed
        # zstd would add bytes (a small or incompressible tensor): the codec's own bytes
        # travel, under its id without the zstd flag, which the decoder reads as such
        applied = Codec(applied.name)
    return applied.wire_id, data


DECODE_LIMIT_BYTES = 1 << 30  # the largest tensor ``decode`` makes unless told otherwise
_FP32 = 0  # fp32's wire id (no zstd)


def encoded_size(codec: Codec, dtype: torch.dtype, shape: tuple[int, ...]) -> int:
    """The bytes ``encode`` writes for a tensor of ``dtype`` and ``shape`` with ``codec`` before
    zstd (exact integers: no product of dimensions wraps around)."""
    count = math.prod(shape)
    if codec.name == "fp32" or not dtype.is_floating_point:
        return count * dtype.itemsize
    if codec.name == "fp16":
        return 4 + 2 * count
    channels = shape[1] if codec.name == "int8-channel" and len(shape) >= 2 else 1
    return 8 * channels + count


def decode(
    data: bytes | memoryview,
    wire_id: int,
    dtype_id: int,
    shape: tuple[int, ...],
    limit_bytes: int = DECODE_LIMIT_BYTES,
    latents: Callable[[bytes | memoryview, tuple[int, ...], int], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The tensor of ``encode``'s bytes (dtype and shape as the header gives them). Everything is
    checked before anything is allocated: the shape (Python integers, so that no product wraps),
    the tensor's size against ``limit_bytes``, the payload's size against what the shape
    needs; zstd output is bounded by that size and refused beyond it. A payload of the wrong
    size is an error, never a misread. A bottleneck's latents (``LATENTS``, int8) need
    ``latents`` (payload, shape, ``limit_bytes``), the decoder of the bottleneck the message
    names (else they are refused)."""
    if wire_id == LATENTS:
        if latents is None:
            raise InvalidParameterError(
                "codec id", wire_id,
                "a fixed codec's: latents came for a cut with no bottleneck here",
            )  # fmt: skip
        if DTYPES.get(dtype_id) != torch.int8:
            raise InvalidParameterError("dtype id", dtype_id, "int8 for a bottleneck's latents")
        return latents(data, tuple(int(d) for d in shape), limit_bytes)
    codec = None if wire_id == _FP32 else Codec.from_wire(wire_id)
    dtype = DTYPES.get(dtype_id)
    if dtype is None:
        raise InvalidParameterError("dtype id", dtype_id, f"one of {sorted(DTYPES)}")
    shape = tuple(int(d) for d in shape)
    count = math.prod(shape)
    if count * dtype.itemsize > limit_bytes:
        raise InvalidParameterError(
            "shape", list(shape), f"a {dtype} tensor of at most {limit_bytes} bytes"
        )
    if codec is None:  # fp32 without zstd, the common case, in the fewest steps
        return from_raw(data, dtype, shape, count)
    expected = encoded_size(codec, dtype, shape)
    if codec.zstd:
        data = unzstd_exact(data, expected)
    if codec.name == "fp32":
        return from_raw(data, dtype, shape, count)
    if codec.name == "fp16":
        return _from_fp16(data, dtype, shape, count)
    return _from_int8(data, dtype, shape, count, per_channel=codec.name == "int8-channel")


def unzstd_exact(data: bytes | memoryview, expected: int) -> bytes:
    """zstd-compressed ``data`` that must decompress to exactly ``expected`` bytes: streamed,
    and refused as soon as it would give more (a small frame can expand a thousandfold)."""
    import zstandard

    try:
        reader = zstandard.ZstdDecompressor().stream_reader(bytes(data), read_across_frames=True)
        chunks, size = [], 0
        while size <= expected:
            chunk = reader.read(min(expected + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except zstandard.ZstdError as error:
        raise InvalidParameterError("payload", "zstd", f"zstd-compressed bytes ({error})") from None
    if size != expected:
        said = f"more than {expected}" if size > expected else str(size)
        raise InvalidParameterError(
            "payload", f"zstd giving {said} bytes", f"{expected} bytes, as the header declares"
        )
    return b"".join(chunks)


def raw_bytes(tensor: torch.Tensor) -> memoryview:
    """A CPU tensor's elements as raw row-major bytes (bfloat16 as its 16 bits)."""
    if tensor.numel() == 0:  # a memoryview with a zero in its shape cannot be cast
        return memoryview(b"")
    tensor = tensor.contiguous()
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16: its bits as int16
        tensor = tensor.view(torch.int16)
    return memoryview(tensor.numpy()).cast("B")


def from_raw(data, dtype: torch.dtype, shape: tuple[int, ...], count: int) -> torch.Tensor:
    """A tensor of ``dtype`` and ``shape`` (``count`` elements) over raw row-major bytes,
    refused unless their size is exactly that."""
    if len(data) != count * dtype.itemsize:
        raise InvalidParameterError(
            "payload", f"{len(data)} bytes", f"{count * dtype.itemsize} for shape {list(shape)}"
        )
    if count == 0:  # torch.frombuffer takes no empty buffer
        return torch.empty(shape, dtype=dtype)
    # a writable buffer (a server's shared region) is used in place; read-only bytes are copied
    # once, as torch tensors must be writable
    writable = isinstance(data, memoryview) and not data.readonly
    buffer = data if writable else bytearray(data)
    return torch.frombuffer(buffer, dtype=dtype, count=count).view(shape)


_FP16_TOP = 15  # a tensor's largest magnitude is scaled into [2^14, 2^15): fp16's normal range


def _fp16(tensor: torch.Tensor) -> bytes:
    """fp16 scaled by a power of two (exact) so that the largest magnitude sits high in fp16's
    range: values neither overflow (> 65504) nor flush to zero (< 6e-8) whatever the tensor's
    scale; the shift (int32) comes first, then the halves."""
    largest = float(tensor.abs().max()) if tensor.numel() else 0.0
    shift = math.frexp(largest)[1] - _FP16_TOP if largest > 0 else 0
    halves = torch.ldexp(tensor.float(), torch.tensor(-shift, dtype=torch.float32)).half()
    return struct.pack("<i", shift) + halves.numpy().tobytes()


def _from_fp16(data, dtype: torch.dtype, shape: tuple[int, ...], count: int) -> torch.Tensor:
    if len(data) != 4 + 2 * count:
        raise InvalidParameterError(
            "payload", f"{len(data)} bytes", f"{4 + 2 * count} for fp16 of shape {list(shape)}"
        )
    (shift,) = struct.unpack_from("<i", data)
    if abs(shift) > 1100:  # beyond any float64 exponent: not a shift fp16 encoding wrote
        raise InvalidParameterError("payload", f"fp16 shift {shift}", "within -1100..1100")
    halves = torch.from_numpy(np.frombuffer(bytearray(data), np.float16, count, 4)).reshape(shape)
    return torch.ldexp(halves.to(torch.float64), torch.tensor(float(shift))).to(dtype)


def _channel_view(tensor: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """[channels, rest]: channels on dim 1 (N, C, ...) when per channel and the tensor has one,
    else a single row."""
    if per_channel and tensor.dim() >= 2:
        return tensor.transpose(0, 1).reshape(tensor.shape[1], -1)
    return tensor.reshape(1, -1)


def _affine_codes(
    tensor: torch.Tensor, bits: int, per_channel: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Affine codes of ``bits`` bits: per row of the channel view, x ~ low + q * scale with q in
    0 .. 2^bits - 1. Returns (low, scale, codes as [rows, rest])."""
    rows = _channel_view(tensor.float(), per_channel)
    top = float((1 << bits) - 1)
    low = rows.min(dim=1).values
    scale = (rows.max(dim=1).values - low) / top
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = torch.round((rows - low[:, None]) / scale[:, None]).clamp(0, top)
    return low, scale, codes


def affine_roundtrip(tensor: torch.Tensor, bits: int, per_channel: bool = False) -> torch.Tensor:
    """``tensor`` after affine quantization to ``bits`` bits (1-16) and back: the int8 codecs'
    quantizer at any width, for measuring what a narrower code would cost in accuracy. It would
    travel as ``bits`` bits per element plus 64 bits (low, scale) per row."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise InvalidParameterError("bits", bits, "an integer from 1 to 16")
    low, scale, codes = _affine_codes(tensor, bits, per_channel)
    rows = low[:, None] + codes * scale[:, None]
    if per_channel and tensor.dim() >= 2:
        moved = (tensor.shape[1], tensor.shape[0], *tensor.shape[2:])
        return rows.reshape(moved).transpose(0, 1).contiguous().to(tensor.dtype)
    return rows.reshape(tensor.shape).to(tensor.dtype)


def _int8(tensor: torch.Tensor, per_channel: bool) -> bytes:
    """Affine uint8 (``_affine_codes`` at 8 bits): the rows' low and scale (float32) come first,
    then the codes."""
    low, scale, codes = _affine_codes(tensor, 8, per_channel)
    return low.numpy().tobytes() + scale.numpy().tobytes() + codes.to(torch.uint8).numpy().tobytes()


def _from_int8(
    data, dtype: torch.dtype, shape: tuple[int, ...], count: int, per_channel: bool
) -> torch.Tensor:
    channels = shape[1] if per_channel and len(shape) >= 2 else 1
    expected = 8 * channels + count
    if len(data) != expected:
        raise InvalidParameterError(
            "payload", f"{len(data)} bytes", f"{expected} for int8 of shape {list(shape)}"
        )
    if count == 0:  # nothing to dequantise (and no row to shape)
        return torch.zeros(shape, dtype=dtype)
    buffer = bytearray(data)
    low = torch.from_numpy(np.frombuffer(buffer, np.float32, channels, 0))
    scale = torch.from_numpy(np.frombuffer(buffer, np.float32, channels, 4 * channels))
    codes = torch.from_numpy(np.frombuffer(buffer, np.uint8, count, 8 * channels))
    rows = low[:, None] + codes.reshape(channels, -1).float() * scale[:, None]
    if channels > 1:
        moved = (shape[1], shape[0], *shape[2:])
        return rows.reshape(moved).transpose(0, 1).contiguous().to(dtype)
    return rows.reshape(shape).to(dtype)
