"""Train the digits CNN of the accuracy experiments once and ship its weights.

    python scripts/ship_digits_model.py [--seed 0] [--epochs 40]

Writes src/edgesplit/data/models/digits-seed{S}-epochs{E}.safetensors and a JSON sidecar with the
machine, the versions and the test accuracy. A model trained from the same seed on another CPU
has other weights (the SIMD path changes the float sums), so the docs' accuracy figures come
from these weights, the same on every machine (``compress.accuracy.digits_model``).
"""

from __future__ import annotations

import argparse
import json

from safetensors.torch import save_file

from edgesplit.compress.accuracy import evaluate, shipped_digits_path, trained_digits_model
from edgesplit.profile.measure import machine_description


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    model, data = trained_digits_model(args.seed, args.epochs)
    top1, top3 = evaluate(model, data)
    path = shipped_digits_path(args.seed, args.epochs)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    sidecar = {
        "model": "DigitsNet", "seed": args.seed, "epochs": args.epochs,
        "test_top1": top1, "test_top3": top3, "test_images": len(data.y_test),
        "machine": machine_description("cpu"),
        "command": f"python scripts/ship_digits_model.py --seed {args.seed} --epochs {args.epochs}",
    }  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    print(f"{path}: top-1 {top1:.4f}, top-3 {top3:.4f}")


if __name__ == "__main__":
    main()
