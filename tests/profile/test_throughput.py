"""The placeholder throughput model."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.profile import ThroughputModel


def test_latency_is_macs_over_rate(zoo):
    _, _, graph = zoo("resnet34")
    latency = ThroughputModel(2e9).node_latency_s(graph)
    np.testing.assert_allclose(latency, [n.macs / 2e9 for n in graph.nodes])


@pytest.mark.parametrize("rate", [0, -1.0, float("inf"), float("nan"), "fast", True])
def test_rate_must_be_positive_and_finite(rate):
    with pytest.raises(InvalidParameterError, match="macs_per_s="):
        ThroughputModel(rate)
