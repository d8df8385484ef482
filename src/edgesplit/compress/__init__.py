"""Compression: tensor codecs for what crosses a cut (shared with the runtime's wire format);
pruning, quantization and placement come with the compression issue."""

from edgesplit.compress.codecs import CODECS, Codec, affine_roundtrip, decode, encode

__all__ = ["CODECS", "Codec", "affine_roundtrip", "decode", "encode"]
