"""Tensor codecs: exact where they promise it, within their quantisation step where lossy, and
never misreading a payload of the wrong size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edgesplit.compress.codecs import CODECS, DTYPE_IDS, DTYPES, Codec, decode, encode
from edgesplit.errors import InvalidParameterError


def _roundtrip(tensor: torch.Tensor, codec: Codec) -> torch.Tensor:
    wire_id, data = encode(tensor, codec)
    return decode(bytes(data), wire_id, DTYPE_IDS[tensor.dtype], tuple(tensor.shape))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=4),
    st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.bool]),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_fp32_and_raw_tensors_travel_exactly(shape, dtype, zstd, seed):
    generator = torch.Generator().manual_seed(seed)
    tensor = (torch.randn(shape, generator=generator) * 10).to(dtype)
    for name in CODECS:  # non-float tensors travel raw whatever the codec
        if tensor.is_floating_point() and name != "fp32":
            continue
        back = _roundtrip(tensor, Codec(name, zstd))
        assert back.dtype == dtype and back.shape == tensor.shape
        assert torch.equal(back, tensor)


def test_fp16_keeps_half_precision():
    tensor = torch.randn(4, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    back = _roundtrip(tensor, Codec("fp16"))
    assert back.dtype == torch.float32
    torch.testing.assert_close(back, tensor.half().float(), rtol=0, atol=0)


@pytest.mark.parametrize("magnitude", [1e-9, 1e-3, 1.0, 1e6, 1e30])
def test_fp16_keeps_eleven_bits_at_any_scale(magnitude):
    """Plain fp16 flushes values below 6e-8 to zero and overflows above 65504 (random-weight
    MobileNet-V2's late activations are ~1e-8); the power-of-two shift keeps fp16's relative
    precision (2^-11) for the tensor's largest values at any scale."""
    tensor = torch.randn(3, 8, 4, 4, generator=torch.Generator().manual_seed(2)) * magnitude
    back = _roundtrip(tensor, Codec("fp16"))
    largest = tensor.abs().max()
    assert ((back - tensor).abs() <= largest * 2.0**-11).all()
    assert torch.equal(back == 0, tensor == 0)


def test_lossy_codecs_refuse_non_finite_tensors():
    tensor = torch.tensor([1.0, float("inf"), 2.0])
    assert torch.equal(_roundtrip(tensor, Codec("fp32")), tensor)
    for name in ("fp16", "int8", "int8-channel"):
        with pytest.raises(InvalidParameterError, match="inf or nan"):
            encode(tensor, Codec(name))


@pytest.mark.parametrize("zstd", [False, True])
def test_int8_error_is_within_half_a_step_of_each_range(zstd):
    """Per tensor the step is (max - min) / 255; per channel each channel's own step, which is
    far finer when the channels' ranges differ."""
    generator = torch.Generator().manual_seed(1)
    tensor = torch.randn(2, 6, 5, 5, generator=generator)
    tensor = tensor * torch.logspace(-3, 1, 6)[None, :, None, None]  # ranges from 1e-3 to 10
    whole = _roundtrip(tensor, Codec("int8", zstd))
    step = (tensor.max() - tensor.min()) / 255
    assert (whole - tensor).abs().max() <= step / 2 + 1e-6
    channel = _roundtrip(tensor, Codec("int8-channel", zstd))
    per_channel = tensor.transpose(0, 1).reshape(6, -1)
    steps = (per_channel.max(1).values - per_channel.min(1).values) / 255
    errors = (channel - tensor).abs().transpose(0, 1).reshape(6, -1).max(1).values
    assert (errors <= steps / 2 + 1e-6).all()
    assert (channel - tensor).abs().mean() < (whole - tensor).abs().mean()


def test_constant_tensors_and_sizes():
    tensor = torch.full((3, 4), 2.5)
    assert torch.equal(_roundtrip(tensor, Codec("int8")), tensor)
    _, data = encode(torch.zeros(1000), Codec("fp32", zstd=True))
    assert len(data) < 100  # zeros compress
    _, raw = encode(torch.zeros(1000), Codec("fp32"))
    assert len(raw) == 4000
    _, int8 = encode(torch.zeros(1000), Codec("int8"))
    assert len(int8) == 1000 + 8  # the codes, then low and scale


def test_zstd_that_would_add_bytes_is_left_out_and_the_id_says_so():
    """A small or incompressible tensor travels as its codec's own bytes under the id without
    zstd's flag, and decodes; a compressible one keeps zstd."""
    noise = torch.randn(64, generator=torch.Generator().manual_seed(0))
    for name in ("fp32", "int8"):
        wire_id, data = encode(noise, Codec(name, zstd=True))
        plain_id, plain = encode(noise, Codec(name))
        assert wire_id == plain_id == Codec(name).wire_id and bytes(data) == bytes(plain)
        back = decode(data, wire_id, DTYPE_IDS[torch.float32], (64,))
        assert torch.equal(back, decode(plain, plain_id, DTYPE_IDS[torch.float32], (64,)))
    wire_id, data = encode(torch.zeros(1000), Codec("int8", zstd=True))
    assert wire_id == Codec("int8", zstd=True).wire_id and len(data) < 1000


def test_wrong_sizes_and_ids_are_refused():
    wire_id, data = encode(torch.randn(4, 4), Codec("fp32"))
    with pytest.raises(InvalidParameterError, match=r"payload='60 bytes' is invalid: 64 for"):
        decode(bytes(data)[:60], wire_id, DTYPE_IDS[torch.float32], (4, 4))
    with pytest.raises(InvalidParameterError, match="codec id"):
        decode(bytes(data), 9, 0, (4, 4))
    with pytest.raises(InvalidParameterError, match="dtype id"):
        decode(bytes(data), wire_id, 42, (4, 4))
    with pytest.raises(InvalidParameterError, match="zstd-compressed bytes"):
        decode(b"not zstd", Codec("fp32", zstd=True).wire_id, 0, (2,))
    with pytest.raises(InvalidParameterError, match="codec='int4'"):
        Codec.parse("int4")
    assert str(Codec.parse("int8-channel+zstd")) == "int8-channel+zstd"


def test_fp32_encoding_is_a_view_of_the_tensor():
    tensor = torch.arange(6, dtype=torch.float32)
    _, data = encode(tensor, Codec("fp32"))
    tensor[0] = 42.0
    assert np.frombuffer(data, np.float32)[0] == 42.0  # no copy was made


def test_affine_roundtrip_at_8_bits_is_the_int8_codec():
    """The narrow-code quantizer and the wire's int8 codecs are one implementation: at 8 bits
    they agree exactly, per tensor and per channel."""
    from edgesplit.compress.codecs import DTYPE_IDS, affine_roundtrip

    tensor = torch.randn(2, 6, 5, 5, generator=torch.Generator().manual_seed(3))
    for name, per_channel in (("int8", False), ("int8-channel", True)):
        wire_id, data = encode(tensor, Codec(name))
        decoded = decode(data, wire_id, DTYPE_IDS[torch.float32], tuple(tensor.shape))
        assert torch.equal(affine_roundtrip(tensor, 8, per_channel), decoded)


@pytest.mark.parametrize("bits", [1, 2, 4, 6])
def test_affine_roundtrip_error_is_half_a_step(bits):
    from edgesplit.compress.codecs import affine_roundtrip

    tensor = torch.randn(1, 4, 9, 9, generator=torch.Generator().manual_seed(bits))
    step = float(tensor.max() - tensor.min()) / (2**bits - 1)
    error = (affine_roundtrip(tensor, bits) - tensor).abs().max()
    assert float(error) <= step / 2 + 1e-6
    assert len(torch.unique(affine_roundtrip(tensor, bits))) <= 2**bits


def test_affine_roundtrip_refuses_bad_widths():
    from edgesplit.compress.codecs import affine_roundtrip

    for bits in (0, 17, 2.5, True):
        with pytest.raises(InvalidParameterError, match="bits"):
            affine_roundtrip(torch.zeros(3), bits)


@settings(max_examples=300, deadline=None)
@example(codec_id=3, dtype_id=0, shape=[2, 0, 3], payload=b"", compress=False)  # no channel
@given(
    codec_id=st.integers(0, 255),
    dtype_id=st.integers(0, 255),
    shape=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), max_size=8),
    payload=st.binary(max_size=256),
    compress=st.booleans(),
)
def test_decode_of_anything_is_a_tensor_or_a_clear_refusal(
    codec_id, dtype_id, shape, payload, compress
):
    """Whatever a header declares and whatever bytes follow (zstd frames included): decode
    gives a tensor of exactly the declared shape and dtype, or refuses with InvalidParameterError;
    it never raises anything else and never makes a tensor past its limit."""
    import zstandard

    data = zstandard.ZstdCompressor().compress(payload) if compress else payload
    limit = 1 << 16
    try:
        tensor = decode(data, codec_id, dtype_id, tuple(shape), limit_bytes=limit)
    except InvalidParameterError:
        return
    assert tuple(tensor.shape) == tuple(shape) and tensor.dtype == DTYPES[dtype_id]
    assert tensor.numel() * tensor.element_size() <= limit


def test_a_zstd_frame_is_refused_past_the_declared_size_without_inflating():
    import zstandard

    bomb = zstandard.ZstdCompressor(level=1).compress(bytes(1 << 28))
    wire = Codec("fp32", zstd=True).wire_id
    with pytest.raises(InvalidParameterError, match="more than 400 bytes"):
        decode(bomb, wire, DTYPE_IDS[torch.float32], (10, 10))
    short = zstandard.ZstdCompressor().compress(bytes(396))
    with pytest.raises(InvalidParameterError, match="giving 396 bytes"):
        decode(short, wire, DTYPE_IDS[torch.float32], (10, 10))
    exact = zstandard.ZstdCompressor().compress(bytes(400))
    assert torch.equal(decode(exact, wire, DTYPE_IDS[torch.float32], (10, 10)), torch.zeros(10, 10))
