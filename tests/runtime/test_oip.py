"""The Open Inference Protocol on `edgesplit serve`, through tritonclient (a client edgesplit did
not write): readiness, metadata, and inferences that equal the local tail exactly in fp32; and a
device offloading to MLServer (a server edgesplit did not write) hosting an exported tail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from edgesplit.errors import InvalidParameterError
from edgesplit.graph.split import split
from edgesplit.graph.zoo import load_traced
from edgesplit.runtime import EdgeServer

from .conftest import NET, SIZE, TOKEN, free_port

HEADERS = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(server: EdgeServer) -> Iterator[triton.InferenceServerClient]:
    """tritonclient on the runtime tests' server (conftest: resnet18, Net, ..., a token)."""
    made = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    yield made
    made.close()


def _local(spec: str, granularity: str, position: int) -> tuple[tuple, torch.Tensor]:
    """What crosses cut ``position`` and the tail's output, computed here at one thread."""
    model, x, graph = load_traced(spec, granularity, SIZE)
    head, tail = split(model, graph, graph.cut(position))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            handed_over = head(x)
            return handed_over, tail(*handed_over)
    finally:
        torch.set_num_threads(previous)


def test_tritonclient_finds_the_server_and_a_tails_metadata(client):
    assert client.is_server_live(headers=HEADERS) and client.is_server_ready(headers=HEADERS)
    assert client.get_server_metadata(headers=HEADERS).name == "edgesplit"
    assert client.is_model_ready("resnet18.block.cut-3", headers=HEADERS)
    metadata = client.get_model_metadata("resnet18.block.cut-3", headers=HEADERS)
    _, _, graph = load_traced("resnet18", "block", SIZE)
    (crossing,) = graph.cut(3).crossing
    shape = next(v.shape for v in graph.values if v.name == crossing)
    (given,) = metadata.inputs
    assert given.name == crossing and given.datatype == "FP32"
    assert list(given.shape) == [-1, *shape[1:]]
    (output,) = metadata.outputs
    assert output.datatype == "FP32" and list(output.shape) == [-1, 1000]


@pytest.mark.parametrize(("spec", "name", "position"), [
    ("resnet18", "resnet18", 3),
    (NET, "Net", None),  # its first cut where two tensors cross
])  # fmt: skip
def test_an_inference_through_tritonclient_equals_the_local_tail_exactly(
    client, spec, name, position
):
    if position is None:
        _, _, graph = load_traced(spec, "block", SIZE)
        position = next(c.index for c in graph.cuts() if len(c.crossing) == 2)
    handed_over, expected = _local(spec, "block", position)
    inputs = []
    metadata = client.get_model_metadata(f"{name}.block.cut-{position}", headers=HEADERS)
    for described, tensor in zip(metadata.inputs, handed_over, strict=True):
        given = triton.InferInput(described.name, list(tensor.shape), "FP32")
        given.set_data_from_numpy(tensor.numpy())
        inputs.append(given)
    result = client.infer(
        f"{name}.block.cut-{position}", inputs, headers=HEADERS, parameters={"threads": 1}
    )
    got = result.as_numpy(metadata.outputs[0].name)
    assert np.array_equal(got, expected.numpy())


def test_what_the_protocol_refuses_says_why(client):
    good = triton.InferInput("relu", [1, 64, SIZE // 2, SIZE // 2], "FP32")
    good.set_data_from_numpy(np.zeros((1, 64, SIZE // 2, SIZE // 2), np.float32))
    wrong_shape = triton.InferInput("relu", [1, 3, 8, 8], "FP32")
    wrong_shape.set_data_from_numpy(np.zeros((1, 3, 8, 8), np.float32))
    wrong_type = triton.InferInput("relu", [1, 64, SIZE // 2, SIZE // 2], "INT64")
    wrong_type.set_data_from_numpy(np.zeros((1, 64, SIZE // 2, SIZE // 2), np.int64))
    cases = [
        ("resnet50.block.cut-4", [good], HEADERS, "StatusCode.NOT_FOUND", "tails are named"),
        ("resnet18.block.cut-99", [good], HEADERS, "StatusCode.NOT_FOUND", "cut-0 to cut-"),
        ("resnet18.block.cut-3", [wrong_shape], HEADERS, "INVALID_ARGUMENT", "expected"),
        ("resnet18.block.cut-3", [wrong_type], HEADERS, "INVALID_ARGUMENT", "FP32 expected"),
        ("resnet18.block.cut-3", [good], {}, "UNAUTHENTICATED", ""),
    ]
    for name, inputs, headers, status, says in cases:
        with pytest.raises(InferenceServerException) as refused:
            client.infer(name, inputs, headers=headers)
        assert status in str(refused.value.status()) and says in refused.value.message()
    served = client.infer("resnet18.block.cut-3", [good], headers=HEADERS)  # still serving
    assert served.as_numpy("fc").shape == (1, 1000)


def test_the_committed_descriptors_are_what_the_proto_compiles(tmp_path):
    src = Path(__file__).resolve().parents[2] / "src"
    out = tmp_path / "oip.binpb"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{src}", f"--descriptor_set_out={out}",
         str(src / "edgesplit" / "runtime" / "proto" / "oip.proto")],
        check=True,
    )  # fmt: skip
    assert out.read_bytes() == (src / "edgesplit" / "data" / "oip.binpb").read_bytes()


def test_a_device_offloads_to_an_oip_server_and_gets_the_unsplit_output(server):
    """`DeviceClient` with an ``oip://`` server: the tail runs there through ModelInfer (fp32,
    whatever codec was asked, the record says so) and the output is the local tail's."""
    from edgesplit.compress.codecs import Codec
    from edgesplit.runtime import DeviceClient

    address = f"oip://127.0.0.1:{server.port}"
    with DeviceClient(
        "resnet18", address, token=TOKEN, granularity="block", input_size=SIZE
    ) as device:
        _, expected = _local("resnet18", "block", 4)
        output, record = device.run(device.example, 3, threads=1)
        assert record.offloaded and record.codec == "fp32" and record.note is None
        assert torch.equal(output, expected)
        output, record = device.run(device.example, 3, threads=1, codec=Codec("int8"))
        assert record.offloaded and "Open Inference Protocol" in record.note
        assert torch.equal(output, expected)
    with DeviceClient("resnet18", address, granularity="block", input_size=SIZE) as stranger:
        output, record = stranger.run(stranger.example, 3, threads=1)  # no token
        assert not record.offloaded and record.fallback == "UNAUTHENTICATED"
        assert torch.equal(output, expected)


@pytest.mark.parametrize(("spec", "position"), [("resnet18", 4), (NET, None)])
def test_export_writes_a_verified_head_and_tail_and_a_triton_repository(tmp_path, spec, position):
    """ONNX Runtime runs the exported head, then the tail on what it gave: the model's output
    (checked here again, independently of the exporter's own check); the repository's tail is
    the same file, described in config.pbtxt with its inputs' names and shapes."""
    import onnxruntime as ort

    from edgesplit.runtime.export import export_split
    from edgesplit.runtime.oip import Tail, tail_name

    model, x, graph = load_traced(spec, "block", SIZE)
    if position is None:
        position = next(c.index for c in graph.cuts() if len(c.crossing) == 2)
    made = export_split(spec, position, tmp_path, "block", SIZE, "triton")
    head = ort.InferenceSession(str(made.head), providers=["CPUExecutionProvider"])
    tail = ort.InferenceSession(str(made.tail), providers=["CPUExecutionProvider"])
    batch = torch.cat([x, torch.flip(x, dims=[0]) + 0.5])  # two rows: the batch is free
    crossed = head.run(None, {"input": batch.numpy()})
    names = [i.name for i in tail.get_inputs()]
    (got,) = tail.run(None, dict(zip(names, crossed, strict=True)))
    with torch.no_grad():
        expected = model(batch)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)
    described = Tail(spec, "block", graph, graph.cut(position))
    assert names == [n for n, _, _ in described.inputs]
    repository = made.config.parent
    assert repository.name == made.name == tail_name(spec, "block", position)
    assert (repository / "1" / "model.onnx").read_bytes() == made.tail.read_bytes()
    config = made.config.read_text()
    assert f'name: "{made.name}"' in config and 'platform: "onnxruntime_onnx"' in config
    for name, _, shape in described.inputs:
        dims = ", ".join(map(str, [-1, *shape[1:]]))
        assert f'{{ name: "{name}" data_type: TYPE_FP32 dims: [ {dims} ] }}' in config


@pytest.mark.slow  # a second export format: make test keeps ONNX's
def test_export_as_torchscript_for_tritons_pytorch_backend(tmp_path):
    """TorchScript halves (Triton's libtorch backend) give the model's output on a batch of two
    rows when loaded back; the repository names the outputs OUTPUT__<i>; MLServer's layout
    refuses TorchScript (its tail runs in ONNX Runtime), naming the option."""
    from edgesplit.runtime.export import export_split

    model, x, _ = load_traced("resnet18", "block", SIZE)
    made = export_split("resnet18", 3, tmp_path, "block", SIZE, "triton", "torchscript")
    head, tail = torch.jit.load(str(made.head)), torch.jit.load(str(made.tail))
    batch = torch.cat([x, torch.flip(x, dims=[0]) + 0.5])
    with torch.no_grad():
        got, expected = tail(*head(batch)), model(batch)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert (made.config.parent / "1" / "model.pt").read_bytes() == made.tail.read_bytes()
    config = made.config.read_text()
    assert 'platform: "pytorch_libtorch"' in config and 'name: "OUTPUT__0"' in config
    assert '{ name: "relu" data_type: TYPE_FP32' in config  # the tail's argument
    with pytest.raises(InvalidParameterError, match=r"--format.*onnx with --repository mlserver"):
        export_split("resnet18", 3, tmp_path, "block", SIZE, "mlserver", "torchscript")


MLSERVER = Path(__file__).parents[2] / ".venv-oip" / "bin" / "mlserver"


@pytest.fixture
def mlserver(tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    """MLServer (a server edgesplit did not write, in its own environment: `make oip-server`)
    hosting the tail of NET's first two-tensor cut exported by `edgesplit export --repository
    mlserver`, on loopback; yields (model, address, cut) and stops it (its process group)."""
    from edgesplit.runtime.export import export_split

    if not MLSERVER.exists():
        pytest.fail(f"{MLSERVER} is missing: `make test-all` builds it (`make oip-server`)")
    graph = load_traced(NET, "block", SIZE)[2]
    position = next(c.index for c in graph.cuts() if len(c.crossing) == 2)
    export_split(NET, position, tmp_path, "block", SIZE, "mlserver")
    grpc_port, http_port = free_port(), free_port()
    settings = {
        "host": "127.0.0.1", "grpc_port": grpc_port, "http_port": http_port,
        "metrics_endpoint": None, "parallel_workers": 0,
    }  # fmt: skip
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    log = (tmp_path / "mlserver.log").open("w")
    process = subprocess.Popen(
        [str(MLSERVER), "start", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        with triton.InferenceServerClient(f"127.0.0.1:{grpc_port}") as probe:
            deadline = time.monotonic() + 90
            while not _ready(probe):
                assert process.poll() is None, (tmp_path / "mlserver.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "MLServer did not get ready in 90 s"
                time.sleep(0.2)
        yield NET, f"oip://127.0.0.1:{grpc_port}", position
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _ready(probe: triton.InferenceServerClient) -> bool:
    try:
        return probe.is_server_ready()
    except InferenceServerException:  # not listening yet
        return False


@pytest.mark.slow
def test_a_device_offloads_to_mlserver_hosting_an_exported_tail(mlserver):
    """`edgesplit device --server oip://...` against MLServer: every task runs its tail there
    (the two crossing tensors fed by name) and equals the unsplit model to ONNX Runtime's
    precision; a cut MLServer does not host runs on the device, with the reason."""
    from edgesplit.runtime import DeviceClient

    spec, address, position = mlserver
    command = [
        sys.executable, "-m", "edgesplit", "device", spec, "--cut", str(position), "--server",
        address, "--tasks", "3", "--granularity", "block", "--input-size", str(SIZE), "--json",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    tasks = json.loads(done.stdout)["tasks"]
    assert len(tasks) == 3
    for task in tasks:
        assert task["offloaded"] and task["fallback"] is None and task["cut"] == position
        assert task["max_abs_error"] < 1e-5
    with DeviceClient(spec, address, granularity="block", input_size=SIZE) as device:
        x = device.example + torch.linspace(-1, 1, device.example.numel()).view_as(device.example)
        with torch.no_grad():
            expected = device.model(x)
        output, record = device.run(x, position)
        assert record.offloaded and record.note is None
        np.testing.assert_allclose(output.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)
        output, record = device.run(x, position - 2)  # not exported: MLServer has no such model
        assert not record.offloaded and record.fallback == "NOT_FOUND"
        assert torch.equal(output, expected)
