"""Train a classifier of the digits (the accuracy experiments' CNN, or MobileNet-V2 on 32x32
copies for the bottlenecks) once and ship its weights.

    python scripts/ship_digits_model.py [--arch digitsnet] [--seed 0] [--epochs 40]

Writes src/edgesplit/data/models/digits[-ARCH]-seed{S}-epochs{E}.safetensors and a JSON sidecar
with the machine, the versions and the test accuracy. A model trained from the same seed on
another CPU has other weights (the SIMD path changes the float sums), so the docs' accuracy
figures come from these weights, the same on every machine (``compress.accuracy.digits_model``).
"""

from __future__ import annotations

import argparse
import json

from safetensors.torch import save_file

from edgesplit.compress.accuracy import (
    DIGITS_ARCHS,
    evaluate,
    shipped_digits_path,
    trained_digits_model,
)
from edgesplit.profile.measure import machine_description


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=sorted(DIGITS_ARCHS), default="digitsnet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args()
    epochs = DIGITS_ARCHS[args.arch].epochs if args.epochs is None else args.epochs
    model, data = trained_digits_model(args.seed, epochs, args.arch)
    top1, top3 = evaluate(model, data)
    path = shipped_digits_path(args.seed, epochs, args.arch)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    sidecar = {
        "model": type(model).__name__, "arch": args.arch, "seed": args.seed, "epochs": epochs,
        "test_top1": top1, "test_top3": top3, "test_images": len(data.y_test),
        "machine": machine_description("cpu"),
        "command": "python scripts/ship_digits_model.py "
        f"--arch {args.arch} --seed {args.seed} --epochs {epochs}",
    }  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    print(f"{path}: top-1 {top1:.4f}, top-3 {top3:.4f}")


if __name__ == "__main__":
    main()
