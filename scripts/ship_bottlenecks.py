"""Train the bottlenecks and early exits edgesplit ships (the split-rate-accuracy and
split-early-exit experiments measure them) for the shipped digits classifiers, and write them to
src/edgesplit/data/bottlenecks/ and src/edgesplit/data/exits/.

    python scripts/ship_bottlenecks.py [--only NAME-PREFIX] [--rescore] [--exits]

Each is a safetensors file and a JSON sidecar that names the model, the cut, the training config,
the scores on the test images, the machine and this command. An interrupted run resumes each
bottleneck from its checkpoint. ``--rescore`` scores the shipped files again (after a change to
the wire's coding) without training; ``--exits`` trains the exits (at the bottlenecks' cuts)
instead of the bottlenecks.
"""

from __future__ import annotations

import argparse

from edgesplit.compress.bottleneck import BottleneckConfig
from edgesplit.compress.exits import ExitConfig
from edgesplit.compress.shipped import (
    SHIPPED_BOTTLENECKS,
    bottleneck_name,
    make_digits_bottleneck,
    make_digits_exit,
    rescore_bottleneck,
)

# (arch, cut position, rate weights of frozen-tail bottlenecks, the fine-tuned one's weight):
# DigitsNet after its first ReLU (32 x 8 x 8) and its max pool (64 x 4 x 4); MobileNet-V2 (32 x
# 32 input) after block 1 (16 x 16 x 16) and block 3 (24 x 8 x 8)
PLAN = (
    ("digitsnet", 3, (0.0, 0.003, 0.03), 0.003),
    ("digitsnet", 7, (0.0, 0.003, 0.03), 0.003),
    ("mobilenet_v2", 8, (0.0, 0.003, 0.03), 0.003),
    ("mobilenet_v2", 25, (0.0, 0.003, 0.03), 0.003),
)
EPOCHS = {"digitsnet": 40, "mobilenet_v2": 20}


def configs() -> list[tuple[str, int, BottleneckConfig]]:
    chosen = []
    for arch, position, weights, tuned in PLAN:
        for weight, finetune in [*((w, False) for w in weights), (tuned, True)]:
            config = BottleneckConfig(
                latent_channels=4, hidden_channels=64, rate_weight=weight, finetune=finetune,
                epochs=EPOCHS[arch],
            )  # fmt: skip
            chosen.append((arch, position, config))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="train only the bottlenecks named so")
    parser.add_argument("--rescore", action="store_true", help="score the shipped files again")
    parser.add_argument("--exits", action="store_true", help="train the early exits")
    args = parser.parse_args()
    command = "python scripts/ship_bottlenecks.py" + (f" --only {args.only}" if args.only else "")
    if args.exits:
        for arch, position, *_ in PLAN:
            if f"{arch}-cut{position}-exit".startswith(args.only):
                print(make_digits_exit(arch, position, ExitConfig(), command=command + " --exits"))
        return
    for arch, position, config in configs():
        name = bottleneck_name(arch, position, config)
        if not name.startswith(args.only):
            continue
        if args.rescore:
            path = rescore_bottleneck(SHIPPED_BOTTLENECKS / name, arch)
        else:
            path = make_digits_bottleneck(arch, position, config, command=command)
        print(path, flush=True)


if __name__ == "__main__":
    main()
