"""The wire format: exact round trips, a header within 64 bytes, and every corruption (any single
changed byte, truncation, extension, random bytes) refused with a WireError naming the field."""

from __future__ import annotations

import contextlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.compress.codecs import Codec
from edgesplit.runtime.wire import (
    HEADER,
    MAX_DIMS,
    REPLY,
    REQUEST,
    VERSION,
    WireError,
    pack,
    routing,
    unpack,
    wire_id,
)


def _message(seed: int = 0, codec: Codec | None = None) -> tuple[bytes, list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    tensors = [
        torch.randn(1, 4, 5, 5, generator=generator),
        torch.randint(0, 9, (3,), generator=generator),
        torch.randn(2, 3, generator=generator).double(),
    ]
    return pack(REQUEST, wire_id("m"), wire_id("0x1f"), 7, tensors, codec, threads=3), tensors


def test_header_is_at_most_64_bytes():
    assert HEADER.size <= 64


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=MAX_DIMS), max_size=5),
    st.integers(0, 2**63),
    st.integers(0, 65535),
)
def test_tensors_travel_exactly_with_their_fields(shapes, request_id, threads):
    tensors = [torch.randn(shape) for shape in shapes]
    data = pack(REPLY, 11, 12, request_id, tensors, threads=threads)
    message = unpack(data)
    assert (message.kind, message.model_id, message.cut_id) == (REPLY, 11, 12)
    assert (message.request_id, message.threads) == (request_id, threads)
    assert len(message.tensors) == len(tensors)
    for back, sent in zip(message.tensors, tensors, strict=True):
        assert back.dtype == sent.dtype and torch.equal(back, sent)
    assert routing(data) == (11, 12, threads)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_changed_byte_is_refused(data):
    message, _ = _message()
    position = data.draw(st.integers(0, len(message) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != message[position]))
    corrupted = message[:position] + bytes([value]) + message[position + 1 :]
    with pytest.raises(WireError):
        unpack(corrupted)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_or_extended_messages_are_refused(data):
    message, _ = _message(1, Codec("int8", zstd=True))
    cut = data.draw(st.integers(0, len(message) - 1))
    with pytest.raises(WireError):
        unpack(message[:cut])
    with pytest.raises(WireError, match="announces"):
        unpack(message + data.draw(st.binary(min_size=1, max_size=64)))


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 70), st.binary(max_size=600))
def test_plausible_headers_over_random_bodies_raise_only_wire_errors(count, body):
    """A header that passes every check (magic, version, length, checksum) in front of random
    bytes: the tensor headers inside are garbage and must be refused, never misread or crash."""
    from edgesplit.runtime.wire import MAGIC, _checksum

    fields = [MAGIC, VERSION, REQUEST, count, 1, 2, 3, len(body)]
    checksum = _checksum(HEADER.pack(*fields, 0, 0, 0), [body])
    data = HEADER.pack(*fields, checksum, 0, 0) + body
    with contextlib.suppress(WireError):
        message = unpack(data)
        assert len(message.tensors) == count  # it parsed: then it is what it says


def test_each_field_is_named():
    message, _ = _message()

    def with_field(offset: int, value: bytes) -> bytes:
        return message[:offset] + value + message[offset + len(value) :]

    cases = {
        "shorter than": message[:20],
        "not an edgesplit message": with_field(0, b"HTTP"),
        f"format version {VERSION + 1}": with_field(4, bytes([VERSION + 1])),
        "message kind 9": with_field(5, bytes([9])),
        "checksum mismatch": with_field(HEADER.size + 60, b"\xff\xfe"),
    }
    for reason, data in cases.items():
        with pytest.raises(WireError, match=reason):
            unpack(data)


def test_unsupported_tensors_are_refused_when_packing():
    with pytest.raises(WireError, match="dims"):
        pack(REQUEST, 1, 2, 3, [torch.zeros([1] * (MAX_DIMS + 1))])
    with pytest.raises(WireError, match="complex64"):
        pack(REQUEST, 1, 2, 3, [torch.zeros(2, dtype=torch.complex64)])


def test_wire_ids_agree_across_processes_and_differ_between_names():
    """Every process must compute the same id for a name (Python's own hash() is salted per
    process; the wire id is not)."""
    import subprocess
    import sys

    names = ["resnet18", "0x1f", "file.py:Net:width=32"]
    script = "from edgesplit.runtime.wire import wire_id; import sys; "
    script += "print(*[wire_id(n) for n in sys.argv[1:]])"
    other = subprocess.run(
        [sys.executable, "-c", script, *names], capture_output=True, text=True, check=True
    )
    assert [int(v) for v in other.stdout.split()] == [wire_id(n) for n in names]
    assert len({wire_id(f"0x{i:x}") for i in range(10_000)}) == 10_000
