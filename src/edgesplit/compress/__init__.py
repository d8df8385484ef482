"""Compression and placement (docs/compress.md): tensor codecs for what crosses a cut (shared
with the runtime's wire format, ``codecs``), structured and unstructured pruning and model specs
naming a variant (``prune``), sparse weight encoding (``sparse``), int8 through ONNX Runtime or
PT2E (``quantize``), the measured variant report (``report``), accuracy on scikit-learn's digits
(``accuracy``), chukhno2023's placement with the exact split option (``placement``), learned
bottlenecks at a cut (``bottleneck``), early exits (``exits``), their training by distillation
(``distill``) and the shipped ones (``shipped``)."""

from edgesplit.compress.codecs import CODECS, Codec, affine_roundtrip, decode, encode

__all__ = ["CODECS", "Codec", "affine_roundtrip", "decode", "encode"]
