"""The runtime's overheads as cost terms: the fastest codec against a brute-force search, the
ideal link as the papers' bits / rate, the shipped profile and clear errors for bad ones."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from edgesplit.costs.link import LinkCosts, load_link, shipped_links
from edgesplit.errors import InvalidParameterError, ProfileError

ALL = ("fp32", "fp16", "int8", "int8-channel", "fp32+zstd", "int8+zstd")


def _brute_force(link: LinkCosts, bits: float, rate_bps: float) -> tuple[float, int]:
    """Every codec's whole latency, written out; the least, the first of equals."""
    totals = []
    for i in range(len(link.codecs)):
        wire = link.wire_ratio[i] * bits
        totals.append(
            link.request_s + link.encode_s_per_bit[i] * bits + link.decode_s_per_bit[i] * bits
            + link.transport_s_per_bit * wire + wire / rate_bps
        )  # fmt: skip
    best = int(np.argmin(totals))
    return totals[best], best


def test_the_shipped_profile_loads_with_every_codec():
    assert "epyc2" in shipped_links()
    link = load_link("epyc2", ALL)
    assert link.codecs == ALL and link.request_s > 0
    assert link.wire_ratio[0] == pytest.approx(1.0, abs=1e-3)  # fp32: the bits plus headers
    assert link.wire_ratio[1] == pytest.approx(0.5, abs=1e-3)  # fp16: half


def test_the_fastest_codec_is_the_brute_force_one_at_every_rate():
    link = load_link("epyc2", ALL)
    bits = np.array([8e3, 1.2e6, 9.6e6, 2.6e7])
    chosen = set()
    for rate in np.logspace(5, 11, 25):
        terms = link.terms(bits, rate, True)
        for b, latency, codec in zip(bits, terms.latency_s, terms.codec, strict=True):
            expected, best = _brute_force(link, b, rate)
            assert latency == pytest.approx(expected, rel=1e-12)
            assert codec == best
            chosen.add(link.codecs[best])
        wire = link.wire_ratio[terms.codec] * bits
        np.testing.assert_allclose(terms.airtime_s, wire / rate)
        np.testing.assert_allclose(terms.device_s, link.encode_s_per_bit[terms.codec] * bits)
    # a slow link compresses hard, a fast one sends fp32 as it is
    assert "fp32" in chosen and "int8+zstd" in chosen
    assert link.codecs[int(link.choose(1e11))] == "fp32"
    assert link.codecs[int(link.choose(1e5))] == "int8+zstd"


def test_the_ideal_link_is_bits_over_rate_and_nothing_when_local():
    link = LinkCosts.ideal()
    bits, rate = np.array([0.0, 1e6, 3e6]), np.array([1e7, 2e7, 5e6])
    terms = link.terms(bits, rate, np.array([True, True, False]))
    np.testing.assert_allclose(terms.latency_s, [0.0, 0.05, 0.0])
    np.testing.assert_allclose(terms.airtime_s, [0.0, 0.05, 0.0])
    assert (terms.device_s == 0).all() and (terms.codec == 0).all()


def test_bad_links_and_codecs_are_refused(tmp_path):
    with pytest.raises(InvalidParameterError, match="codecs=\\['fp64'\\]"):
        load_link("epyc2", ("fp64",))
    with pytest.raises(InvalidParameterError, match="fp32 only without a link profile"):
        load_link(None, ("fp16",))
    with pytest.raises(InvalidParameterError, match=r"link='nowhere\.json'"):
        load_link("nowhere.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ProfileError, match="not a link profile"):
        load_link(str(bad))
    shipped = resources.files("edgesplit.data").joinpath("links", "epyc2.json").read_text()
    data = json.loads(shipped)
    data["codecs"]["fp32"]["wire_ratio"] = -1
    bad.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="negative"):
        load_link(str(bad))
