"""Learned codecs and early exits live: a real server hosting the shipped digits classifier and
its bottlenecks, a device sending coded latents on the raw path and under the Open Inference
Protocol (through its own client and through tritonclient), and exits answering on the device.
Outputs are checked against the halves and the bottleneck computed here, and accuracies against
what the shipped sidecars measured offline."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import torch
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from edgesplit.compress.accuracy import digits_data, topk_accuracy
from edgesplit.compress.bottleneck import SHIPPED_BOTTLENECKS, encode_latents, read_info
from edgesplit.compress.codecs import LATENTS, Codec, Encoded
from edgesplit.compress.distill import bottleneck_split
from edgesplit.compress.exits import SHIPPED_EXITS, confidence, load_exit, read_exit_info
from edgesplit.compress.shipped import classifier_spec
from edgesplit.errors import InvalidParameterError
from edgesplit.graph.zoo import load_traced
from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig
from edgesplit.runtime.client import EarlyExit
from edgesplit.runtime.server import RUN
from edgesplit.runtime.wire import REQUEST, bottleneck_cut_id, pack, unpack, wire_id

SPEC = classifier_spec("digitsnet")
SHAPE = "1,1,8,8"
FROZEN = "digitsnet-cut7-frozen-r0p003"  # 4 x 4 x 4 latents at cut 7
TUNED = "digitsnet-cut3-finetuned-r0p003"  # its tail's norms and biases fine-tuned


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeServer]:
    config = ServerConfig(
        models=(SPEC,), port=0, input_shape=SHAPE, lanes=1, granularities=("layer",),
        bottlenecks=(FROZEN, str(SHIPPED_BOTTLENECKS / f"{TUNED}.json"),
                     "digitsnet-cut3-frozen-r0p003"),
    )  # fmt: skip
    server = EdgeServer(config)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def data():
    return digits_data(0, "digitsnet")


def _client(edge: EdgeServer, oip: bool = False) -> DeviceClient:
    address = f"{'oip://' if oip else ''}127.0.0.1:{edge.port}"
    return DeviceClient(SPEC, address, granularity="layer", input_shape=SHAPE)


def _through(name: str, x: torch.Tensor) -> torch.Tensor:
    """The head, the bottleneck's integer latents, its decoder and the (tuned) tail, computed
    here on a model loaded here."""
    model, _, graph = load_traced(SPEC, "layer", input_shape=SHAPE)
    head, bottleneck, tail, _ = bottleneck_split(model, graph, SHIPPED_BOTTLENECKS / name)
    with torch.no_grad():
        return tail(bottleneck.synthesize(bottleneck.quantize(head(x)[0])))


@pytest.mark.parametrize("oip", [False, True])
@pytest.mark.parametrize("name", [FROZEN, TUNED])
def test_a_bottleneck_codec_gives_the_local_halves_output_and_the_sidecars_accuracy(
    edge, data, oip, name
):
    """The whole test set in one task: every logit as the halves and bottleneck give it here,
    and the top-1 the sidecar measured offline (image by image), which is below the model's."""
    info = read_info(SHIPPED_BOTTLENECKS / name)[1]
    with _client(edge, oip) as client:
        output, record = client.run(data.x_test, info.cut, codec=Codec.parse(f"bottleneck:{name}"))
    assert record.offloaded and record.fallback is None and record.note is None
    assert record.codec == f"bottleneck:{name}"
    torch.testing.assert_close(output, _through(name, data.x_test), rtol=1e-4, atol=1e-4)
    assert topk_accuracy(output, data.y_test, 1) == pytest.approx(info.metrics["top1"], abs=1e-6)
    assert info.metrics["top1"] < info.metrics["model_top1"]  # lossy: the halves alone differ


def test_one_image_sends_the_coded_latents_and_far_less_than_int8(edge, data):
    x = data.x_test[:1]
    with _client(edge) as client:
        bottleneck = client.shared.bottleneck(FROZEN).module
        _, coded = client.run(x, 7, codec=Codec.parse(f"bottleneck:{FROZEN}"))
        _, int8 = client.run(x, 7, codec=Codec("int8"))
        with torch.no_grad():
            payload = encode_latents(bottleneck, bottleneck.quantize(client.halves(7)[0](x)[0]))
    # header (52), tensor header (44) padded to 64 bytes, then the payload
    assert coded.sent_bytes == 52 + 44 + (-(52 + 44) % 64) + len(payload)
    assert 8 * len(payload) <= 200 and coded.sent_bytes < int8.sent_bytes / 5


def test_bottleneck_requests_batch_on_the_server_and_each_gets_its_own_rows(data):
    """Four devices' coded latents for one bottleneck, batching on: decoded before batching, run
    together, each reply the rows the halves give for that request alone."""
    from .test_server import _batched_calls

    config = ServerConfig(
        models=(SPEC,), port=0, input_shape=SHAPE, lanes=1, granularities=("layer",),
        bottlenecks=(FROZEN,), batch_max=8, batch_delay_s=1.0,
    )  # fmt: skip
    server = EdgeServer(config)
    server.start()
    try:
        with _client(server) as client:
            learned = client.shared.bottleneck(FROZEN)
            head = client.halves(7)[0]
            requests, alone = [], []
            for i in range(4):
                x = data.x_test[2 * i : 2 * i + 2]
                with torch.no_grad():
                    latents = learned.module.quantize(head(x)[0])
                coded = Encoded(torch.int8, tuple(latents.shape), LATENTS,
                                encode_latents(learned.module, latents))  # fmt: skip
                requests.append(pack(REQUEST, wire_id(SPEC), learned.cut_id, i + 1, [coded]))
                alone.append(_through(FROZEN, x))
        results = _batched_calls(server.port, requests)
        assert all(code == grpc.StatusCode.OK for code, _, _ in results)
        assert max(size for _, _, size in results) >= 2
        for i, (_, reply, _) in enumerate(results):
            message = unpack(reply)
            assert message.request_id == i + 1
            torch.testing.assert_close(message.tensors[0], alone[i], rtol=1e-4, atol=1e-4)
    finally:
        server.stop()


def test_malformed_latents_are_refused_by_name_and_the_server_goes_on(edge, data):
    info = read_info(SHIPPED_BOTTLENECKS / FROZEN)[1]
    cut_id = bottleneck_cut_id(info.cut_key, info.name)
    shape = (1, 4, 4, 4)
    cases = [
        (Encoded(torch.int8, shape, LATENTS, b"\x07abcd"), "tag 7"),
        (Encoded(torch.int8, shape, LATENTS, b"\x00abc"), "32-bit coder words"),
        (Encoded(torch.int8, (1, 4, 2, 2), LATENTS, b"\x00abcd"), "[N >= 1, 4, 4, 4]"),
        (Encoded(torch.int8, (10**9, 4, 4, 4), LATENTS, b"\x00abcd"), "at most"),
        (Encoded(torch.float32, shape, LATENTS, b"\x00abcd"), "int8 for a bottleneck"),
    ]
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as channel:
        call = channel.unary_unary(RUN)
        for coded, says in cases:
            with pytest.raises(grpc.RpcError) as refused:
                call(pack(REQUEST, wire_id(SPEC), cut_id, 1, [coded]), timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert says in refused.value.details()
        # latents sent at a cut with no bottleneck: refused, not misread
        plain = wire_id(info.cut_key)
        with pytest.raises(grpc.RpcError) as refused:
            call(pack(REQUEST, wire_id(SPEC), plain, 1, [cases[0][0]]), timeout=30)
        assert "no bottleneck here" in refused.value.details()
    with _client(edge) as client:  # still serving
        _, record = client.run(data.x_test[:1], 7, codec=Codec.parse(f"bottleneck:{FROZEN}"))
        assert record.offloaded and edge.state()["lane_restarts"] == 0


def test_tritonclient_runs_a_bottleneck_tail_with_bytes_latents(edge, data):
    """An OIP client we did not write: the bottleneck's tail is listed under its name with one
    BYTES input; each element one image's coded latents."""
    made = triton.InferenceServerClient(f"127.0.0.1:{edge.port}")
    try:
        metadata = made.get_model_metadata(FROZEN)
        assert [(i.name, i.datatype) for i in metadata.inputs] == [("latents", "BYTES")]
        x = data.x_test[:3]
        with _client(edge) as client:
            bottleneck = client.shared.bottleneck(FROZEN).module
            with torch.no_grad():
                latents = bottleneck.quantize(client.halves(7)[0](x)[0])
        elements = np.array(
            [encode_latents(bottleneck, row) for row in latents.split(1)], dtype=np.object_
        )
        given = triton.InferInput("latents", [3], "BYTES")
        given.set_data_from_numpy(elements)
        got = made.infer(FROZEN, [given]).as_numpy(metadata.outputs[0].name)
        torch.testing.assert_close(torch.tensor(got), _through(FROZEN, x), rtol=1e-4, atol=1e-4)
        with pytest.raises(InferenceServerException) as refused:  # three elements, none given
            made.infer(FROZEN, [triton.InferInput("latents", [3], "BYTES")])
        assert "0 BYTES elements for shape [3]" in refused.value.message()
        bad = triton.InferInput("latents", [1], "BYTES")
        bad.set_data_from_numpy(np.array([b"\x09"], dtype=np.object_))
        with pytest.raises(InferenceServerException) as refused:
            made.infer(FROZEN, [bad])
        assert "tag 9" in refused.value.message()
    finally:
        made.close()


def test_a_server_without_the_bottleneck_leaves_the_device_to_run_the_model_itself(data):
    """The device's own model finishes the task (the unsplit output, not the bottleneck's)."""
    config = ServerConfig(
        models=(SPEC,), port=0, input_shape=SHAPE, lanes=1, granularities=("layer",)
    )
    server = EdgeServer(config)
    server.start()
    try:
        with _client(server) as client:
            x = data.x_test[:4]
            output, record = client.run(x, 7, codec=Codec.parse(f"bottleneck:{FROZEN}"))
            with torch.no_grad():
                expected = client.model(x)
        assert not record.offloaded and record.fallback == "INVALID_ARGUMENT"
        torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-5)
    finally:
        server.stop()


def test_what_a_bottleneck_or_exit_cannot_be_used_for_is_refused_by_name(edge):
    mobilenet = "mobilenet_v2-cut8-frozen-r0p003"
    with pytest.raises(InvalidParameterError, match="a bottleneck of a hosted model"):
        EdgeServer(ServerConfig(models=("resnet18",), port=0, bottlenecks=(mobilenet,)))
    with pytest.raises(InvalidParameterError, match="shipped one"):
        EdgeServer(ServerConfig(models=(SPEC,), port=0, bottlenecks=("no-such",)))
    with _client(edge) as client:
        x = torch.zeros(1, 1, 8, 8)
        with pytest.raises(InvalidParameterError, match="cut 7, where the codec"):
            client.run(x, 3, codec=Codec.parse(f"bottleneck:{FROZEN}"))
        with pytest.raises(InvalidParameterError, match="cut 3, where the exit"):
            client.run(x, 7, exit=EarlyExit("digitsnet-cut3-exit", 0.9))
        with pytest.raises(InvalidParameterError, match="mobilenet_v2"):
            client.run(x, 7, codec=Codec.parse(f"bottleneck:{mobilenet}"))
    with pytest.raises(InvalidParameterError, match="exit threshold"):
        EarlyExit("digitsnet-cut3-exit", 1.5)
    with pytest.raises(InvalidParameterError, match="without \\+zstd"):
        Codec("bottleneck", zstd=True, bottleneck=FROZEN)


@pytest.mark.parametrize("oip", [False, True])
def test_an_exit_answers_its_confident_rows_on_the_device_and_sends_the_rest(edge, data, oip):
    """At cut 3 and a threshold of 0.7: the rows whose exit confidence reaches it are the exit
    head's logits, computed here, the others the unsplit model's (fp32 sent); the share exiting
    and the top-1 of both together are what the exit's sidecar measured offline."""
    name, threshold = "digitsnet-cut3-exit", 0.7
    head, info = load_exit(SHIPPED_EXITS / name)
    point = next(p for p in info.curve if p["threshold"] == threshold)
    with _client(edge, oip) as client:
        served = edge.state()["counts"].get("served", 0)
        output, record = client.run(data.x_test, 3, exit=EarlyExit(name, threshold))
        with torch.no_grad():
            logits = head(client.halves(3)[0](data.x_test)[0])
            unsplit = client.model(data.x_test)
    confident = confidence(logits) >= threshold
    assert record.exited == int(confident.sum()) and 0 < record.exited < len(confident)
    assert record.offloaded and record.exit_s > 0
    assert edge.state()["counts"]["served"] == served + 1
    torch.testing.assert_close(output[confident], logits[confident])
    torch.testing.assert_close(output[~confident], unsplit[~confident], rtol=1e-5, atol=1e-5)
    assert record.exited / len(confident) == pytest.approx(point["exit_rate"], abs=1e-6)
    assert topk_accuracy(output, data.y_test, 1) == pytest.approx(point["top1"], abs=1e-6)


def test_a_task_the_exit_answers_whole_sends_nothing(edge, data):
    info = read_exit_info(SHIPPED_EXITS / "digitsnet-cut7-exit")[1]
    assert info.curve[0]["exit_rate"] == 1.0  # at 0.5 every test image exits here
    with _client(edge) as client:
        served = edge.state()["counts"].get("served", 0)
        output, record = client.run(data.x_test[:8], 7, exit=EarlyExit("digitsnet-cut7-exit", 0.5))
    assert record.exited == 8 and not record.offloaded and record.fallback is None
    assert record.sent_bytes == 0 and record.transfer_s == 0
    assert edge.state()["counts"].get("served", 0) == served
    assert output.shape == (8, 10)


def test_the_device_command_runs_a_bottleneck_and_an_exit(edge):
    """`edgesplit device` with a shipped bottleneck (lossy: the output moves) and an exit that
    answers every task (nothing sent); a bottleneck at the wrong cut is one line."""
    import json

    from typer.testing import CliRunner

    from edgesplit.cli import app

    common = ["device", SPEC, "--server", f"127.0.0.1:{edge.port}", "--granularity", "layer",
              "--input-shape", SHAPE, "--tasks", "2", "--json"]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, [*common, "--cut", "7", "--codec", f"bottleneck:{FROZEN}"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["offloaded"] == 2 and report["codec"] == f"bottleneck:{FROZEN}"
    assert all(t["max_abs_error"] > 0 and t["sent_bytes"] < 200 for t in report["tasks"])
    exits = [*common, "--cut", "7", "--exit", "digitsnet-cut7-exit", "--exit-threshold", "0.5"]
    report = json.loads(runner.invoke(app, exits).stdout)
    assert report["summary"]["exited"] == 2 and report["summary"]["local"] == "2 exit"
    wrong = runner.invoke(app, [*common, "--cut", "3", "--codec", f"bottleneck:{FROZEN}"])
    assert wrong.exit_code == 1 and "cut 7, where the codec" in wrong.output
    assert "Traceback" not in wrong.output


@pytest.mark.parametrize(("objective", "kind"), [("latency", "exit"), ("energy", "codec")])
def test_the_plans_choice_under_a_floor_runs_live_with_the_top1_it_was_chosen_for(
    edge, data, objective, kind
):
    """`plan --min-accuracy`'s choice (a 0.2 GMAC/s device, a 20 GMAC/s server, 0.1 Mbit/s, a
    floor of 98.5 %: an exit for latency, a bottleneck for energy) run by the live runtime as
    its device options say, on the whole test set: its top-1 is the one the planner weighed."""
    from edgesplit.compress.shipped import split_options
    from edgesplit.plan import Setting, best_split
    from edgesplit.profile import ThroughputModel

    setting = Setting(ThroughputModel(2e8), ThroughputModel(2e10), 1e5, 2.0, 1.0)
    with _client(edge) as client:
        options, model_top1 = split_options(SPEC, client.graph, setting.device, setting.server)
        chosen, _ = best_split(client.graph, setting, options, model_top1, 0.985, objective)
        run = chosen.option.device_options()
        assert kind in run
        early = EarlyExit(run["exit"], run["exit_threshold"]) if "exit" in run else None
        codec = Codec.parse(run.get("codec", "fp32"))
        output, record = client.run(data.x_test, chosen.cut.cut.index, codec=codec, exit=early)
    assert record.fallback is None and record.codec == str(codec)
    assert record.exited == (len(data.x_test) if early else 0)
    assert topk_accuracy(output, data.y_test, 1) == pytest.approx(chosen.top1, abs=1e-6)


def test_a_bottleneck_made_at_one_granularity_runs_where_its_cut_has_another_position():
    """MobileNet-V2's bottleneck trained at layer cut 25 is block cut 6 (one portable key): a
    server answering blocks only and a device at blocks run it there, and the output is the
    halves' at layer granularity."""
    spec, name = classifier_spec("mobilenet_v2"), "mobilenet_v2-cut25-frozen-r0p003"
    config = ServerConfig(models=(spec,), port=0, input_size=32, lanes=1,
                          granularities=("block",), bottlenecks=(name,))  # fmt: skip
    server = EdgeServer(config)
    server.start()
    try:
        with DeviceClient(spec, f"127.0.0.1:{server.port}", granularity="block",
                          input_size=32) as client:  # fmt: skip
            assert client.shared.bottleneck(name).position == 6
            x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
            output, record = client.run(x, 6, codec=Codec.parse(f"bottleneck:{name}"))
        model, _, graph = load_traced(spec, "layer", 32)
        head, bottleneck, tail, _ = bottleneck_split(model, graph, SHIPPED_BOTTLENECKS / name)
        with torch.no_grad():
            expected = tail(bottleneck.synthesize(bottleneck.quantize(head(x)[0])))
        assert record.offloaded and record.fallback is None
        torch.testing.assert_close(output, expected, rtol=1e-4, atol=1e-4)
    finally:
        server.stop()


def test_the_controllers_world_turns_an_option_row_into_the_cut_codec_and_exit_it_runs():
    """A decision on the digits-bottlenecks preset's option rows, as the live controller makes
    its tasks: each runs at its cut on the model's graph with the bottleneck's codec or the
    exit; a device runs those tasks on a server hosting what the controller's tables name."""
    from edgesplit.contract import Decision
    from edgesplit.runtime.world import SlotWorld
    from edgesplit.sim.scenario import load_scenario

    preset = load_scenario("digits-bottlenecks")
    spec = preset.devices[0].model

    class Rows:  # decides the rows it is given (the world allocates the threads)
        allocator_name = "equal"
        rows = (0, 0)

        def decide(self, observation):
            return Decision(cut=np.array(self.rows))

    policy = Rows()
    world = SlotWorld(preset, preset, policy, False, 0.0, seed=0)
    table = world.system.tables[0]
    bottleneck = next(r for r in range(table.n_cuts) if table.learned_run(r)[0])
    exit_row = next(r for r in range(table.n_cuts) if table.learned_run(r)[1])
    policy.rows = (bottleneck, exit_row)
    plan = world.step([0], [0.0], [1e5, 1e5])
    coded, exiting = plan.tasks[0][0], plan.tasks[1][0]
    name = table.option_of(bottleneck)
    assert (coded.cut, coded.codec, coded.exit) == (
        table.cut_of(bottleneck),
        f"bottleneck:{name}",
        "",
    )
    exit_name, _, threshold = table.option_of(exit_row).rpartition("@")
    assert (exiting.cut, exiting.exit, exiting.exit_threshold) == (
        table.cut_of(exit_row),
        exit_name,
        float(threshold),
    )
    assert plan.record["exit"] == ["", f"{exit_name}@{threshold}"]
    config = ServerConfig(
        models=(spec,), port=0, input_size=32, lanes=1, granularities=(preset.granularity,),
        bottlenecks=tuple(table.bottlenecks()),
    )  # fmt: skip
    server = EdgeServer(config)
    server.start()
    try:
        with DeviceClient(spec, f"127.0.0.1:{server.port}", granularity=preset.granularity,
                          input_size=32) as client:  # fmt: skip
            x = digits_data(0, "mobilenet_v2").x_test[:8]
            _, record = client.run(x, coded.cut, codec=Codec.parse(coded.codec))
            assert record.offloaded and record.codec == coded.codec and record.fallback is None
            early = EarlyExit(exiting.exit, exiting.exit_threshold)
            _, exited = client.run(x, exiting.cut, exit=early)
            assert exited.exited > 0 and exited.fallback is None
    finally:
        server.stop()


@pytest.mark.slow  # a live run: the host's profiles of the digits model measured, three roles
def test_a_live_run_on_learned_options_runs_every_task_as_decided():
    """`edgesplit live` on digits-bottlenecks: the controller's tasks carry the option rows'
    cuts, codecs and exits, the servers host the tables' bottlenecks, and each task ran as
    decided: its exit stopped it on the device with nothing sent, or it went on."""
    from edgesplit.runtime.launcher import LiveConfig, run_live

    report = run_live(LiveConfig("digits-bottlenecks", "optimum", duration_s=10.0))
    tasks, decisions = report["tasks"], report["decisions"]
    assert tasks and report["totals"]["done"] == report["totals"]["decided"]
    assert all(t["fallback"] is None for t in tasks)
    for task in tasks:
        decided = decisions[task["step"]]
        n = task["device"]
        assert (task["cut"], task["codec"]) == (decided["cut"][n], decided["codec"][n])
        if task["exited"]:
            assert decided["exit"][n] and task["sent_bytes"] == 0 and not task["offloaded"]
    assert any(t["exited"] for t in tasks)
