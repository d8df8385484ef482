"""A model's weights as they travel (chukhno2023's model download, Eq. 4): dense float32, or
sparse for an unstructured-pruned model, whose zeros dense kernels still compute but a download
need not carry.

Each tensor goes dense, as a bitmask (one bit per element) plus its non-zero values, or in CSR
(row pointers, column indices and values over the tensor's first dimension), whichever is
smallest; the whole may then be zstd-compressed. :func:`encode_weights` writes the real bytes
and :func:`decode_weights` reads them back (tested to restore every weight exactly), so the
sizes reported are of a real encoding, not a formula. Nothing is pickled: a JSON header names
each tensor's encoding, dtype and shape.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import torch

from edgesplit.errors import InvalidParameterError

ENCODINGS = ("dense", "sparse")  # sparse: per tensor the smallest of dense, bitmask and CSR


def encode_weights(
    state: dict[str, torch.Tensor], encoding: str = "sparse", zstd: bool = False
) -> bytes:
    """The floating tensors of ``state`` (a ``state_dict``) as bytes: a 4-byte header length, a
    JSON header, then each tensor's parts. Non-floating entries (BatchNorm's step counter) go
    dense."""
    if encoding not in ENCODINGS:
        raise InvalidParameterError("encoding", encoding, " or ".join(ENCODINGS))
    entries, parts = [], []
    for name, tensor in state.items():
        array = tensor.detach().cpu().contiguous().numpy()
        form, blobs = "dense", [array.tobytes()]
        if encoding == "sparse" and tensor.is_floating_point() and array.size:
            form, blobs = _smallest(array)
        entries.append(
            {
                "name": name,
                "form": form,
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "sizes": [len(b) for b in blobs],
            }
        )
        parts.extend(blobs)
    header = json.dumps({"zstd": zstd, "tensors": entries}).encode()
    body = b"".join(parts)
    if zstd:
        import zstandard

        body = zstandard.ZstdCompressor(level=3).compress(body)
    return struct.pack("<I", len(header)) + header + body


def decode_weights(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors :func:`encode_weights` wrote."""
    (length,) = struct.unpack_from("<I", data)
    header = json.loads(data[4 : 4 + length])
    body = data[4 + length :]
    if header["zstd"]:
        import zstandard

        body = zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 34)
    state, offset = {}, 0
    for entry in header["tensors"]:
        blobs = []
        for size in entry["sizes"]:
            blobs.append(body[offset : offset + size])
            offset += size
        dtype, shape = np.dtype(entry["dtype"]), tuple(entry["shape"])
        array = _DECODERS[entry["form"]](blobs, dtype, shape)
        state[entry["name"]] = torch.from_numpy(array.reshape(shape).copy())
    return state


def weights_size_bits(state: dict[str, torch.Tensor], encoding: str, zstd: bool = False) -> int:
    """Bits of :func:`encode_weights`'s output."""
    return 8 * len(encode_weights(state, encoding, zstd))


def _smallest(array: np.ndarray) -> tuple[str, list[bytes]]:
    flat = array.reshape(-1)
    nonzero = flat != 0
    values = flat[nonzero]
    dense = [flat.tobytes()]
    bitmask = [np.packbits(nonzero).tobytes(), values.tobytes()]
    rows = array.reshape(array.shape[0], -1) if array.ndim >= 2 else flat.reshape(1, -1)
    columns = np.nonzero(rows)[1]
    index_type = np.uint16 if rows.shape[1] <= 1 << 16 else np.uint32
    pointers = np.concatenate([[0], np.cumsum((rows != 0).sum(axis=1))]).astype(np.uint32)
    csr = [pointers.tobytes(), columns.astype(index_type).tobytes(), values.tobytes()]
    options = {"dense": dense, "bitmask": bitmask, "csr": csr}
    form = min(options, key=lambda k: sum(len(b) for b in options[k]))
    return form, options[form]


def _dense(blobs: list[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(blobs[0], dtype=dtype)


def _bitmask(blobs: list[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    mask = np.unpackbits(np.frombuffer(blobs[0], np.uint8), count=count).astype(bool)
    array = np.zeros(count, dtype=dtype)
    array[mask] = np.frombuffer(blobs[1], dtype=dtype)
    return array


def _csr(blobs: list[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    n_rows = shape[0] if len(shape) >= 2 else 1
    n_columns = count // max(n_rows, 1)
    index_type = np.uint16 if n_columns <= 1 << 16 else np.uint32
    pointers = np.frombuffer(blobs[0], np.uint32)
    columns = np.frombuffer(blobs[1], index_type).astype(np.int64)
    rows = np.repeat(np.arange(n_rows), np.diff(pointers))
    array = np.zeros((n_rows, n_columns), dtype=dtype)
    array[rows, columns] = np.frombuffer(blobs[2], dtype=dtype)
    return array


_DECODERS = {"dense": _dense, "bitmask": _bitmask, "csr": _csr}
