"""Sparse weight encoding: exact round trip, and sizes that match an independent count."""

import struct

import pytest
import torch

from edgesplit.compress.prune import prune_unstructured
from edgesplit.compress.sparse import decode_weights, encode_weights, weights_size_bits
from edgesplit.errors import InvalidParameterError
from edgesplit.graph.zoo import build_model


def _sparse(shape, density, seed):
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(*shape, generator=generator)
    return values * (torch.rand(*shape, generator=generator) < density)


@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("zstd", [False, True])
def test_round_trip_is_exact(density, zstd):
    state = {
        "conv": _sparse((16, 8, 3, 3), density, 1),
        "fc": _sparse((10, 300), density, 2),
        "bias": _sparse((7,), density, 3),
        "steps": torch.tensor(5, dtype=torch.int64),
        "half": _sparse((4, 4), density, 4).half(),
    }
    back = decode_weights(encode_weights(state, "sparse", zstd))
    assert list(back) == list(state)
    for name, tensor in state.items():
        assert back[name].dtype == tensor.dtype
        assert torch.equal(back[name], tensor)


def test_sizes_follow_the_smallest_encoding():
    tensor = _sparse((64, 1024), 0.05, 0)
    nnz, count = int((tensor != 0).sum()), tensor.numel()
    # independent counts: bitmask = one bit per element + 4 bytes per value; CSR = 65 row
    # pointers (uint32) + a uint16 column and 4 bytes per value; dense = 4 bytes per element
    bitmask_bytes = count // 8 + 4 * nnz
    csr_bytes = 4 * 65 + 6 * nnz
    dense_state = {"w": tensor}
    data = encode_weights(dense_state, "sparse")
    payload = len(data) - 4 - struct.unpack_from("<I", data)[0]  # after the JSON header
    assert payload == min(bitmask_bytes, csr_bytes, 4 * count)
    assert weights_size_bits(dense_state, "dense") >= 8 * 4 * count


def test_pruned_model_travels_smaller():
    model = build_model("resnet18")
    dense = weights_size_bits(model.state_dict(), "dense")
    assert weights_size_bits(model.state_dict(), "sparse") <= dense
    prune_unstructured(model, 0.9)
    sparse = weights_size_bits(model.state_dict(), "sparse")
    assert sparse < 0.3 * dense
    assert weights_size_bits(model.state_dict(), "sparse", zstd=True) < sparse


def test_unknown_encoding():
    with pytest.raises(InvalidParameterError, match="encoding"):
        encode_weights({}, "bitpacked")
