# The two commands of the README: `make demo` and `make test`. Both create .venv and install
# edgesplit with its dependencies first (nothing needs installing by hand).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install oip-server gpu-wheels demo test test-all lint format bench profiles results proto clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

# MLServer (an Open Inference Protocol server edgesplit did not write) in an environment of its
# own (it pins protobuf < 7): make test-all offloads to it from a device (tests/runtime/test_oip.py).
OIP_VENV := .venv-oip
$(OIP_VENV)/.installed:
	$(PYTHON) -m venv $(OIP_VENV)
	$(OIP_VENV)/bin/python -m pip install --quiet 'mlserver==1.7.1' 'onnxruntime>=1.18' numpy
	touch $@

oip-server: $(OIP_VENV)/.installed

demo: install
	$(BIN)/edgesplit demo

# `make test` (what CI runs) skips the exhaustive checks marked slow; `make test-all` runs them.
test: install lint
	$(BIN)/python -m pytest -n auto --dist worksteal -m "not slow" --durations=15

test-all: install lint oip-server
	$(BIN)/python -m pytest -n auto --dist worksteal --durations=15

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: install
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

bench: install
	$(BIN)/python benchmarks/graph_speed.py
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/cli_speed.py
	$(BIN)/python benchmarks/runtime_codecs.py
	$(BIN)/python benchmarks/runtime_e2e.py
	$(BIN)/python benchmarks/runtime_throughput.py
	$(BIN)/python benchmarks/runtime_live_policies.py
	$(BIN)/python benchmarks/runtime_e2e.py --testbed --server-threads 1   # root
	$(BIN)/python benchmarks/runtime_testbed.py   # root
	$(BIN)/python benchmarks/host_start.py --scenario shi2025-5g
	$(BIN)/python benchmarks/compress_variants.py
	$(BIN)/python benchmarks/bottleneck_codec.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/window_scale.py

# What a GPU machine's python lacks for the runtime (it has torch, torchvision, NumPy, grpcio) as
# wheels in .wheels/ (ignored), for benchmarks/gpu_tails.sh on a machine that reaches no index
# (GPU_PYTHON: that machine's python version, if not this one's).
GPU_WHEELS := pydantic grpcio-health-checking zstandard xxhash prometheus-client 'protobuf>=7.35.1'
GPU_PYTHON ?= $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
gpu-wheels: install
	$(BIN)/python -m pip download --quiet --dest .wheels --only-binary=:all: \
		--python-version $(GPU_PYTHON) --platform manylinux2014_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 $(GPU_WHEELS)

# Re-make one committed result in docs/results/, replacing it (reproduce writes into out/ and
# refuses to replace a result unless told): make results NAME=zhang2026-bandwidth [WORKERS=2]
WORKERS ?= 2
results: install
	@test -n "$(NAME)" || { echo "make results NAME=<experiment> (edgesplit reproduce --list)"; exit 2; }
	$(BIN)/edgesplit reproduce $(NAME) --workers $(WORKERS) --out docs/results --force

# Re-measure the profiles of this machine shipped as package data (about 25 minutes on 2 cores;
# run on an idle machine). Each file records the command that made it.
PROFILE_MODELS := alexnet vgg16_bn resnet34 resnet50 resnet152 mobilenet_v2 googlenet densenet121 densenet201
PROFILE_DIR := src/edgesplit/data/profiles/epyc2
profiles: install
	mkdir -p $(PROFILE_DIR)
	for m in $(PROFILE_MODELS); do \
		$(BIN)/edgesplit profile $$m --threads 1,2 --repeats 10 --warmup 3 --cuts 16 \
			--out $(PROFILE_DIR)/$$m.json || exit 1; \
	done

# The control plane's messages, generated from their .proto and committed (tests check they match).
proto: install
	$(BIN)/python -m grpc_tools.protoc -Isrc --python_out=src --pyi_out=src \
		src/edgesplit/runtime/proto/control.proto
	$(BIN)/python -m grpc_tools.protoc -Isrc \
		--descriptor_set_out=src/edgesplit/data/oip.binpb src/edgesplit/runtime/proto/oip.proto

clean:
	rm -rf $(VENV) $(OIP_VENV) .pytest_cache .ruff_cache
