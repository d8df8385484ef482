"""What carrying a cut's tensors costs beyond the air time: the runtime's own overheads.

A link profile (package data ``data/links/NAME.json`` or a file, measured by ``edgesplit
calibrate`` on the machines that run the runtime) gives, per codec, the device's encoding time
and the server's decoding time per fp32 bit, the bits on the wire per fp32 bit (1 for fp32, 1/2
for fp16, about 1/4 for int8; measured for zstd on real activations), the transport's time per
wire bit besides the air time (copies, gRPC on loopback), and the fixed time of one request.

For ``bits`` of fp32 tensors at ``rate_bps`` over codec c:

    latency = request_s + bits (encode_c + decode_c + ratio_c transport) + ratio_c bits / rate

Every term but ``request_s`` is linear in the bits, so the best codec depends on the rate only
(``choose``), a cut's link latency stays additive over the values it sends (``plan``'s min cut
still applies) and ``request_s`` is one constant for every offloading cut. The papers' model is
the ideal link (``LinkCosts.ideal``): fp32 only, no overhead, latency = bits / rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgesplit.costs.terms import ArrayLike
from edgesplit.errors import InvalidParameterError, ProfileError

LINK_FORMAT = "edgesplit.link"


def codec_per_bit_s(
    encode_s_per_bit: ArrayLike,
    decode_s_per_bit: ArrayLike,
    wire_ratio: ArrayLike,
    transport_s_per_bit: ArrayLike,
    rate_bps: ArrayLike,
) -> ArrayLike:
    """Seconds per fp32 bit through a codec at ``rate_bps`` (the module docstring's latency
    without ``request_s``, per bit). Plain arithmetic: on floats (the planner's compiled search
    compiles this function itself) or arrays alike."""
    return encode_s_per_bit + decode_s_per_bit + wire_ratio * (transport_s_per_bit + 1.0 / rate_bps)


def codec_terms(
    bits: ArrayLike,
    rate_bps: ArrayLike,
    per_bit_s: ArrayLike,
    wire_ratio: ArrayLike,
    encode_s_per_bit: ArrayLike,
    request_s: ArrayLike,
) -> tuple[ArrayLike, ArrayLike, ArrayLike]:
    """(latency, air time, device time) of offloading ``bits`` (fp32) at ``rate_bps`` through a
    codec of ``per_bit_s`` seconds per bit (``codec_per_bit_s``), ``wire_ratio`` and
    ``encode_s_per_bit``. Plain arithmetic, as ``codec_per_bit_s``."""
    return request_s + bits * per_bit_s, wire_ratio * bits / rate_bps, encode_s_per_bit * bits


@dataclass(frozen=True)
class LinkTerms:
    """The link's part of a task, per offloaded task (0 where nothing is offloaded)."""

    latency_s: np.ndarray  # request + codec work + transport + air time
    airtime_s: np.ndarray  # what the radio transmits (transmit energy)
    device_s: np.ndarray  # the device's encoding (compute energy)
    codec: np.ndarray  # index into LinkCosts.codecs


@dataclass(frozen=True)
class LinkCosts:
    """The runtime's overheads for the codecs a scenario allows (in order of preference)."""

    codecs: tuple[str, ...]
    encode_s_per_bit: np.ndarray  # [codecs], on the device, per fp32 bit
    decode_s_per_bit: np.ndarray  # [codecs], on the server, per fp32 bit
    wire_ratio: np.ndarray  # [codecs], wire bits per fp32 bit
    transport_s_per_bit: float  # per wire bit, besides the air time
    request_s: float  # per offloaded task
    source: str

    @classmethod
    def ideal(cls) -> LinkCosts:
        """The papers' link: the tensors' fp32 bits at the rate, nothing else."""
        zero = np.zeros(1)
        return cls(("fp32",), zero, zero, np.ones(1), 0.0, 0.0, "ideal (the papers' model)")

    def per_bit_s(self, rate_bps: np.ndarray | float) -> np.ndarray:
        """Seconds per fp32 bit through each codec at ``rate_bps``: [..., codecs]."""
        rate = np.asarray(rate_bps, dtype=np.float64)[..., None]
        return codec_per_bit_s(
            self.encode_s_per_bit, self.decode_s_per_bit, self.wire_ratio,
            self.transport_s_per_bit, rate,
        )  # fmt: skip

    def choose(self, rate_bps: np.ndarray | float) -> np.ndarray:
        """The fastest allowed codec at each rate (first in order on a tie)."""
        return np.argmin(self.per_bit_s(rate_bps), axis=-1)

    def terms(
        self, bits: np.ndarray | float, rate_bps: np.ndarray | float, offloaded: np.ndarray | bool
    ) -> LinkTerms:
        """The link's latency, air time and device time of sending ``bits`` (fp32) at
        ``rate_bps`` with the fastest codec; zero where not ``offloaded``."""
        bits = np.asarray(bits, dtype=np.float64)
        rate = np.asarray(rate_bps, dtype=np.float64)
        codec = self.choose(rate)
        per_bit = np.take_along_axis(self.per_bit_s(rate), codec[..., None], axis=-1)[..., 0]
        terms = codec_terms(
            bits, rate, per_bit, self.wire_ratio[codec], self.encode_s_per_bit[codec],
            self.request_s,
        )  # fmt: skip
        latency, airtime, device = (np.where(offloaded, t, 0.0) for t in terms)
        return LinkTerms(latency, airtime, device, np.broadcast_to(codec, latency.shape))

    def record(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "request_s": self.request_s,
            "transport_s_per_bit": self.transport_s_per_bit,
            "codecs": {
                name: {
                    "encode_s_per_bit": float(self.encode_s_per_bit[i]),
                    "decode_s_per_bit": float(self.decode_s_per_bit[i]),
                    "wire_ratio": float(self.wire_ratio[i]),
                }
                for i, name in enumerate(self.codecs)
            },
        }


def shipped_links() -> list[str]:
    """The link profiles shipped as package data."""
    folder = resources.files("edgesplit.data").joinpath("links")
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def read_link(source: str) -> dict[str, Any]:
    """A link profile's data: a shipped one by name, or a file."""
    if source in shipped_links():
        text = resources.files("edgesplit.data").joinpath("links", f"{source}.json").read_text()
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidParameterError(
                "link", source, f"a shipped link profile ({', '.join(shipped_links())}) or a file"
            )
        text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProfileError(f"{source} is not a link profile: {error}") from None
    if not isinstance(data, dict) or data.get("format") != LINK_FORMAT:
        raise ProfileError(f"{source} is not a link profile (format {LINK_FORMAT!r} expected)")
    return data


def load_link(source: str | None, codecs: tuple[str, ...] = ("fp32",)) -> LinkCosts:
    """The link costs of ``source`` (None: the ideal link) restricted to ``codecs``."""
    if source is None:
        if codecs != ("fp32",):
            raise InvalidParameterError(
                "codecs", list(codecs), "fp32 only without a link profile (runtime.link)"
            )
        return LinkCosts.ideal()
    data = read_link(source)
    if data.get("noisy"):  # as planning refuses a profile's noisy setting
        what, why = next(iter(data["noisy"].items()))
        raise ProfileError(
            f"{source} holds timings flagged noisy ({what}: {why}): calibrate again on an idle "
            "machine"
        )
    measured = data.get("codecs", {})
    missing = [c for c in codecs if c not in measured]
    if missing or not codecs:
        raise InvalidParameterError(
            "codecs", list(codecs), f"some of {', '.join(measured)} (measured in {source})"
        )
    try:
        rows = [measured[c] for c in codecs]
        values = {
            key: np.array([float(row[key]) for row in rows])
            for key in ("encode_s_per_bit", "decode_s_per_bit", "wire_ratio")
        }
        transport, request = float(data["transport_s_per_bit"]), float(data["request_s"])
    except (KeyError, TypeError, ValueError) as error:
        raise ProfileError(
            f"{source}: a link profile field is missing or not a number ({error})"
        ) from None
    if any((v < 0).any() for v in values.values()) or transport < 0 or request < 0:
        raise ProfileError(f"{source}: a link profile holds a negative time or ratio")
    return LinkCosts(tuple(codecs), **values, transport_s_per_bit=transport, request_s=request,
                     source=source)  # fmt: skip
