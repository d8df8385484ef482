#!/usr/bin/env bash
# The GPU checks of the runtime (issue 31, part 5) as one script for a lent GPU machine: a CUDA
# lane serving tails end to end, dynamic batching on the GPU, measured against the batched
# server's cost model (costs.closed_loop_throughput_per_s), with t(b) measured on the GPU.
#
# Here, once (the GPU machine reaches no network; its python has torch, not all of ours):
#   make gpu-wheels            # what its python lacks for the runtime, as wheels in .wheels/
# There, through the device tool, with about 5 minutes of budget:
#   run(command="bash benchmarks/gpu_tails.sh", carry=[".wheels"], timeout_s=420)
# It writes $OUT/runtime-batching-cuda.json (the figures and their command) and the log;
# commit the JSON as docs/results/runtime-batching-cuda.json. Nothing else needs a GPU.
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
python3 -m pip install --quiet --no-index --find-links .wheels pydantic grpcio-health-checking \
    zstandard xxhash prometheus-client 'protobuf>=7.35.1'
python3 -m pip install --quiet --no-deps --no-build-isolation -e .
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
python3 benchmarks/runtime_batching.py --device cuda --seconds 6 \
    --json "$OUT/runtime-batching-cuda.json" 2>&1 | tee "$OUT/runtime-batching-cuda.log"
