"""Start-up time of the `edgesplit` command, beside `python -c pass` measured in the same run.

    python benchmarks/cli_speed.py [--repeats 7]

Each command runs in a fresh interpreter (median wall time of ``--repeats`` runs). `--help` and
the commands that never trace a model import neither torch nor torchvision; the last column says
whether the command's process imported torch (checked in a separate run).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (
    ["--help"],
    ["models"],
    ["scenarios"],
    ["policies"],
    ["evaluate", "--scenario", "shi2025-5g", "--policies", "dads+ta", "--episodes", "1"],
)


def wall_s(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imports_torch(args: list[str]) -> bool:
    code = (
        "import sys\nfrom edgesplit.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    baseline = wall_s([sys.executable, "-c", "pass"], args.repeats)
    entry = [sys.executable, "-c", "from edgesplit.cli import main; main()"]
    print(f"python -c pass: {baseline * 1e3:.0f} ms (median of {args.repeats})")
    print(f"{'command':<60s} {'wall':>8s} {'minus python':>13s} {'torch':>6s}")
    for command in COMMANDS:
        seconds = wall_s([*entry, *command], args.repeats)
        label = "edgesplit " + " ".join(command)
        print(
            f"{label:<60s} {seconds * 1e3:6.0f}ms {(seconds - baseline) * 1e3:11.0f}ms "
            f"{'yes' if imports_torch(command) else 'no':>6s}",
            flush=True,
        )


if __name__ == "__main__":
    main()
