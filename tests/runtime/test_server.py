"""The edge server and the device client on 127.0.0.1: outputs equal the unsplit model, bad
requests get a clear status while the server keeps serving, and no task is ever lost."""

from __future__ import annotations

import threading
import urllib.request

import grpc
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesplit.compress.codecs import DTYPE_IDS, Codec, decode, encode
from edgesplit.compress.fold import fold_batchnorm
from edgesplit.errors import EdgesplitError, InvalidParameterError, UnknownModelError
from edgesplit.graph.split import split
from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig
from edgesplit.runtime.server import RUN
from edgesplit.runtime.transport import TOKEN_KEY
from edgesplit.runtime.wire import REPLY, REQUEST, pack, wire_id

from .conftest import MODELS, NET, SIZE, TOKEN, healthy

# what a lossy codec may change, relative to the largest output (measured worst over 13 cuts of
# each test model: fp16 2.0e-4, int8 1.3e-2, int8 per channel 6.8e-3)
TOLERANCE = {"fp16": 1e-3, "int8": 5e-2, "int8-channel": 5e-2}


def _reference(client: DeviceClient, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return client.model(x)


def _split_locally(client: DeviceClient, x: torch.Tensor, cut: int, threads: int) -> torch.Tensor:
    """Head here (this process's one thread), tail at ``threads`` threads: what the server
    computes, without the server. Float sums are divided among threads, so another thread count
    may change the last bits (mobilenet_v2's do); at one thread it is the unsplit model's
    output (tests/graph/test_split.py)."""
    head, tail = client.halves(cut)
    previous = torch.get_num_threads()
    with torch.no_grad():
        handed_over = head(x)
        torch.set_num_threads(threads)
        try:
            return tail(*handed_over)
        finally:
            torch.set_num_threads(previous)


def _cuts(client: DeviceClient) -> list[int]:
    """The raw input, the first and last offloading cuts, and up to three multi-tensor cuts."""
    cuts = client.graph.cuts()
    multi = [c.index for c in cuts if len(c.crossing) >= 2]
    picks = {0, 1, len(cuts) // 2, len(cuts) - 2, *multi[:: max(1, len(multi) // 3)][:3]}
    return sorted(picks)


@pytest.mark.parametrize("spec", MODELS)
def test_fp32_outputs_equal_the_unsplit_model(clients, spec):
    client = clients[spec]
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    expected = _reference(client, x)
    crossing = set()
    for cut in _cuts(client):
        output, record = client.run(x, cut, threads=1)
        assert record.fallback is None and record.offloaded and record.threads == 1, record
        assert torch.equal(output, expected), (spec, cut)
        threads = min(2, client.server_state()["cores"])
        output, record = client.run(x, cut, threads=threads)
        assert record.threads == threads
        assert torch.equal(output, _split_locally(client, x, cut, threads)), (spec, cut)
        crossing.add(len(client.graph.cut(cut).crossing))
    if spec == NET or spec == "resnet18":
        assert max(crossing) >= 2  # multi-tensor cuts were among them


@pytest.mark.parametrize("codec", ["fp16", "int8", "int8-channel+zstd"])
def test_lossy_codecs_are_exactly_the_local_round_trip_and_close_to_the_model(clients, codec):
    """Independent computation: the tail run here on the codec's round trip of the head's
    tensors. The server's output must equal it; both stay within the codec's tolerance."""
    codec = Codec.parse(codec)
    for spec in MODELS:
        client = clients[spec]
        x = client.example
        expected = _reference(client, x)
        scale = expected.abs().max()
        for cut in _cuts(client)[:4]:
            head, tail = client.halves(cut)
            with torch.no_grad():
                sent = head(x)
                travelled = [
                    decode(bytes(data), wid, DTYPE_IDS[t.dtype], tuple(t.shape))
                    for t in sent
                    for wid, data in [encode(t, codec)]
                ]
                local = tail(*travelled)
            output, record = client.run(x, cut, threads=1, codec=codec)
            assert record.offloaded and record.codec == str(codec)
            assert torch.equal(output, local), (spec, cut)
            assert (output - expected).abs().max() <= TOLERANCE[codec.name] * scale


def test_a_client_without_the_token_finishes_locally(server, clients):
    x = clients["resnet18"].example
    with DeviceClient("resnet18", f"127.0.0.1:{server.port}", input_size=SIZE) as anonymous:
        output, record = anonymous.run(x, 3)
    assert record.fallback == "UNAUTHENTICATED" and not record.offloaded
    assert torch.equal(output, _reference(clients["resnet18"], x))


def _call(server: EdgeServer, request: bytes) -> tuple[grpc.StatusCode, str]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        try:
            channel.unary_unary(RUN)(
                request, timeout=30, metadata=((TOKEN_KEY, f"Bearer {TOKEN}"),)
            )
        except grpc.RpcError as error:
            return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def _valid_request(client: DeviceClient, cut: int = 3) -> bytes:
    head, _ = client.halves(cut)
    with torch.no_grad():
        tensors = head(client.example)
    cut_id = wire_id(client.graph.fx_key(client.graph.cut(cut)))
    return pack(REQUEST, wire_id(client.spec), cut_id, 1, tensors, threads=1)


def _still_serves(server: EdgeServer, client: DeviceClient) -> None:
    output, record = client.run(client.example, 3, threads=1)
    assert record.offloaded and torch.equal(output, _reference(client, client.example))


def test_bad_requests_get_a_clear_status_and_the_server_keeps_serving(server, clients):
    client = clients["resnet18"]
    good = _valid_request(client)
    not_a_cut = wire_id(hex(1 << 40))  # one node without its predecessors: no valid cut
    wrong_shape = pack(
        REQUEST, wire_id("resnet18"), wire_id(client.graph.fx_key(client.graph.cut(3))), 1,
        [torch.zeros(1, 2, 3)],
    )  # fmt: skip
    invalid, missing = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    cases = {
        "truncated": (good[:100], invalid, "announces"),
        "not a message": (b"GET / HTTP/1.1\r\n" * 4, invalid, "magic"),
        "wrong version": (good[:4] + b"\x09" + good[5:], invalid, "version 9"),
        "checksum": (good[:-1] + bytes([good[-1] ^ 1]), invalid, "checksum"),
        "a reply": (pack(REPLY, wire_id("resnet18"), 1, 1, []), invalid, "request was expected"),
        "unknown model": (pack(REQUEST, wire_id("nope"), 1, 1, []), missing, "not hosted"),
        "unknown cut": (
            pack(REQUEST, wire_id("resnet18"), not_a_cut, 1, []), missing, "not a cut of resnet18"
        ),
        "tensors that do not fit": (wrong_shape, invalid, "refused the tensors"),
    }  # fmt: skip
    for name, (request, code, reason) in cases.items():
        got, details = _call(server, request)
        assert got == code and reason in details, (name, got, details)
        _still_serves(server, client)
    assert _call(server, good) == (grpc.StatusCode.OK, "")


def _by_hand(model_id: int, cut_id: int, dtype_id: int, codec_id: int, dims, payload: bytes):
    """A request of one tensor written field by field (the wire format's own layout and
    checksum), so that it can say what ``pack`` never would."""
    from edgesplit.runtime.wire import HEADER, MAGIC, TENSOR, VERSION, _checksum, _padding

    dims = list(dims) + [0] * (8 - len(dims))
    described = TENSOR.pack(dtype_id, codec_id, len([d for d in dims if d]), 0, *dims, len(payload))
    body = [described, bytes(_padding(HEADER.size + TENSOR.size)), payload]
    fields = [MAGIC, VERSION, REQUEST, 1, model_id, cut_id, 7, sum(map(len, body))]
    checksum = _checksum(HEADER.pack(*fields, 0, 1, 0), body)
    return b"".join([HEADER.pack(*fields, checksum, 1, 0), *body])


def _lane_rss_bytes(server: EdgeServer) -> int:
    from edgesplit.runtime.lifetime import tree_rss_bytes

    return sum(tree_rss_bytes(lane.process.pid) for lane in server._lanes)


def test_requests_that_once_killed_a_lane_are_refused_by_the_same_lane(server, clients):
    """Dimensions whose product wraps past 2^64, a batch of 0, a 33-kB zstd frame that
    inflates to 1 GiB, a dtype the tail cannot take: each is refused with its reason, no
    lane dies or grows, and the next valid request is served by the same lanes."""
    import zstandard

    client = clients["resnet18"]
    head, _ = client.halves(3)
    with torch.no_grad():
        (crossing,) = head(client.example)
    model, cut = wire_id("resnet18"), wire_id(client.graph.fx_key(client.graph.cut(3)))
    fp32, zstd = Codec().wire_id, Codec("fp32", zstd=True).wire_id
    bomb = zstandard.ZstdCompressor(level=1).compress(bytes(1 << 30))
    assert len(bomb) < 64 * 1024
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    cases = {
        "dimensions past 2^64": (_by_hand(model, cut, 0, fp32, [65536] * 4, b""), "shape"),
        "a batch of 0": (
            pack(REQUEST, model, cut, 1, [crossing[:0]]), "holds no element"
        ),
        "a zstd bomb": (
            _by_hand(model, cut, 0, zstd, crossing.shape, bomb), "as the header declares"
        ),
        "a dtype the tail cannot take": (
            pack(REQUEST, model, cut, 1, [crossing.to(torch.int64)]), "refused the tensors"
        ),
    }  # fmt: skip
    lanes = [lane.process.pid for lane in server._lanes]
    restarts, rss = server.state()["lane_restarts"], _lane_rss_bytes(server)
    for name, (request, reason) in cases.items():
        code, details = _call(server, request)
        assert code == invalid and reason in details, (name, code, details)
        _still_serves(server, client)
    assert [lane.process.pid for lane in server._lanes] == lanes
    assert server.state()["lane_restarts"] == restarts
    assert _lane_rss_bytes(server) < rss + 256 * 2**20  # the bomb never inflated


def test_nan_in_what_crosses_travels_as_fp32_when_a_lossy_codec_was_asked(clients):
    """A head output holding nan or inf cannot go as fp16 (it would change them): the task
    still offloads, in fp32, and its record says why; its output is the unsplit model's."""
    client = clients["resnet18"]
    x = client.example.clone()
    x[0, 0, :4, :4] = float("nan")
    output, record = client.run(x, 3, threads=1, codec=Codec("fp16"))
    assert record.offloaded and record.codec == "fp32" and "nan" in record.note
    torch.testing.assert_close(output, _split_locally(client, x, 3, 1), equal_nan=True)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_fuzzed_requests_are_refused_and_the_server_keeps_serving(server, clients, data):
    client = clients["resnet18"]
    good = _valid_request(client, cut=data.draw(st.sampled_from([0, 3, 20])))
    kind = data.draw(st.sampled_from(["byte", "truncate", "extend", "header"]))
    if kind == "byte":
        at = data.draw(st.integers(0, len(good) - 1))
        request = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255))]) + good[at + 1 :]
    elif kind == "truncate":
        request = good[: data.draw(st.integers(0, len(good) - 1))]
    elif kind == "extend":
        request = good + data.draw(st.binary(min_size=1, max_size=100))
    else:
        request = data.draw(st.binary(min_size=52, max_size=52)) + good[52:]
    code, details = _call(server, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details
    assert _call(server, good) == (grpc.StatusCode.OK, "")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_fuzzed_tensor_headers_never_cost_a_lane(server, clients, data):
    """Requests with a valid checksum whose tensor header says anything (dtype, codec with or
    without zstd, up to 8 dimensions of any 32-bit size) and whose payload is anything (raw or a
    zstd frame): each gets a status, no lane dies, and the same lanes serve the next valid
    request."""
    import zstandard

    client = clients["resnet18"]
    model, cut = wire_id("resnet18"), wire_id(client.graph.fx_key(client.graph.cut(3)))
    dims = data.draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(1, 64), max_size=8))
    payload = data.draw(st.binary(max_size=512))
    if data.draw(st.booleans()):
        payload = zstandard.ZstdCompressor().compress(payload)
    request = _by_hand(
        model, data.draw(st.sampled_from([model, cut])) if dims else cut,
        data.draw(st.integers(0, 255)), data.draw(st.integers(0, 255)), dims, payload,
    )  # fmt: skip
    lanes = [lane.process.pid for lane in server._lanes]
    restarts = server.state()["lane_restarts"]
    code, details = _call(server, request)
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (code, details)
    assert details
    assert _call(server, _valid_request(client)) == (grpc.StatusCode.OK, "")
    assert [lane.process.pid for lane in server._lanes] == lanes
    assert server.state()["lane_restarts"] == restarts


def test_health_state_and_metrics(server, clients):
    assert healthy(f"127.0.0.1:{server.port}")
    state = clients["resnet18"].server_state()
    assert state["cores"] == server.config.total_cores and state["lanes"] == 2
    assert state["counts"]["served"] >= 1


def test_the_lanes_share_the_servers_parameters(server, clients):
    """Each lane maps the parameters the server put in shared memory (unlinked files of this
    process's) instead of holding copies: at least every hosted model's state, the same memory
    in every lane and in the server."""
    import os

    from edgesplit.graph.zoo import load_model

    def shared(pid: int) -> dict[str, int]:
        mapped: dict[str, int] = {}
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) > 5 and fields[5].startswith(f"/dev/shm/torch_{os.getpid()}_"):
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    mapped[fields[5]] = mapped.get(fields[5], 0) + end - start
        return mapped

    state_bytes = sum(
        t.numel() * t.element_size()
        for spec in MODELS
        for t in load_model(spec).state_dict().values()
    )
    here = shared(os.getpid())
    for lane in server._lanes:
        there = shared(lane.process.pid)
        assert sum(there.values()) >= state_bytes
        assert there.keys() <= here.keys()


def test_a_port_in_use_is_one_clear_error(server):
    with pytest.raises(InvalidParameterError, match=f"--port={server.port}.*in use"):
        EdgeServer(ServerConfig(models=("resnet18",), port=server.port, lanes=1)).start()


def test_models_that_cannot_load_stop_the_start(tmp_path):
    with pytest.raises(UnknownModelError, match="resnet1000"):
        EdgeServer(ServerConfig(models=("resnet1000",), port=0))
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('no such thing')\n")
    config = ServerConfig(models=(f"{broken}:Net",), port=0, lanes=1)
    with pytest.raises(EdgesplitError, match="could not load its models: cannot import"):
        EdgeServer(config).start()


def test_metrics_are_served_over_http(tmp_path):
    from .conftest import free_port

    port = free_port()
    config = ServerConfig(models=(NET,), port=0, input_size=SIZE, lanes=1, metrics_port=port)
    edge = EdgeServer(config)
    edge.start()
    try:
        with DeviceClient(NET, f"127.0.0.1:{edge.port}", input_size=SIZE) as client:
            client.run(client.example, 2)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    finally:
        edge.stop()
    text = text.decode()
    assert f'edgesplit_requests_total{{model="{NET}",outcome="served"}} 1.0' in text
    assert "edgesplit_tail_seconds_bucket" in text and "edgesplit_queue_depth 0.0" in text


def _self_signed(key_path, cert_path) -> None:
    """A one-day certificate for 127.0.0.1 and localhost, with its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_tls_serves_clients_that_trust_its_certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    _self_signed(key, cert)
    config = ServerConfig(
        models=(NET,), port=0, input_size=SIZE, lanes=1, tls_cert=str(cert), tls_key=str(key)
    )
    edge = EdgeServer(config)
    edge.start()
    address = f"127.0.0.1:{edge.port}"
    try:
        with DeviceClient(NET, address, input_size=SIZE, tls_ca=str(cert)) as trusted:
            output, record = trusted.run(trusted.example, 2)
            assert record.offloaded and torch.equal(output, _reference(trusted, trusted.example))
        with DeviceClient(NET, address, input_size=SIZE) as plain:
            _, record = plain.run(plain.example, 2)
            assert record.fallback == "UNAVAILABLE"
    finally:
        edge.stop()


def test_concurrent_devices_share_the_lanes(server, clients):
    """Eight threads, each a device, 5 tasks each on a 2-lane server: every output right. (The
    clients are built first: torch.fx patches nn.Module.__call__ while it traces, so no model
    may run in another thread while a client traces its model.)"""
    client = clients["mobilenet_v2"]
    expected = _reference(client, client.example)
    address = f"127.0.0.1:{server.port}"
    devices = [
        DeviceClient("mobilenet_v2", address, token=TOKEN, input_size=SIZE) for _ in range(8)
    ]
    results: list[tuple[torch.Tensor, object]] = []
    lock = threading.Lock()

    def work(own: DeviceClient) -> None:
        for cut in (0, 10, 40, 80, 120):
            output, record = own.run(own.example, cut, threads=1)
            with lock:
                results.append((output, record))

    threads = [threading.Thread(target=work, args=(device,)) for device in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for device in devices:
        device.close()
    assert len(results) == 40
    for output, record in results:
        assert torch.equal(output, expected)
        assert record.fallback in (None, "RESOURCE_EXHAUSTED")  # a full queue sheds, never loses


def test_the_uplink_estimate_follows_a_shaped_link_and_ignores_one_outlier(server):
    """Probes through a token bucket at 8, then 40 Mbit/s: the estimate (the median of three,
    as seconds per bit, an empty request's time taken out) lands within 25 % of each rate within
    two probes of the change; one transfer that was all overhead (a tiny remainder) does not
    throw it off."""
    from edgesplit.runtime.client import TokenBucket

    bucket = TokenBucket(8e6)
    with DeviceClient(
        NET, f"127.0.0.1:{server.port}", token=TOKEN, input_size=SIZE, uplink=bucket
    ) as client:
        for _ in range(3):
            client.probe(size_bytes=200_000)
        assert client.uplink_bps == pytest.approx(8e6, rel=0.25)
        bucket.set_rate(40e6)
        client.probe(size_bytes=200_000)
        client.probe(size_bytes=200_000)
        assert client.uplink_bps == pytest.approx(40e6, rel=0.25)
        client._observe(200_000, seconds=1e-7, shaped_s=1e-9)  # a remainder of a nanosecond
        assert client.uplink_bps == pytest.approx(40e6, rel=0.25)


def test_an_upload_that_outlasts_its_deadline_finishes_locally(server):
    """At 0.1 Mbit/s the input (about 49 kB) would take 4 s on the shaped link; with a 0.2-s
    deadline the device gives up on the link after the deadline and runs the task itself, with
    the unsplit model's output."""
    from edgesplit.runtime.client import TokenBucket

    with DeviceClient(
        NET, f"127.0.0.1:{server.port}", token=TOKEN, input_size=SIZE,
        uplink=TokenBucket(1e5), timeout_s=0.2,
    ) as client:  # fmt: skip
        with torch.no_grad():
            expected = client.model(client.example)
        output, record = client.run(client.example, 0)
    assert record.fallback == "DEADLINE_EXCEEDED" and not record.offloaded
    # the attempt counts in its latency: it gave up at the deadline, not after the 4-s transfer
    assert 0.2 <= record.transfer_s < 1.0
    assert torch.allclose(output, expected)


def _batched_calls(port: int, requests: list[bytes]) -> list[tuple]:
    """Send ``requests`` at once (one thread each, released together): per request its status,
    reply and the batch size the server reports."""
    barrier = threading.Barrier(len(requests))
    results: list[tuple] = [None] * len(requests)

    def send(i: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            barrier.wait()
            try:
                reply, call = channel.unary_unary(RUN).with_call(requests[i], timeout=60)
                trailer = dict(call.trailing_metadata())
                results[i] = (grpc.StatusCode.OK, reply, int(trailer["batch-size"]))
            except grpc.RpcError as error:
                results[i] = (error.code(), error.details(), 0)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_batched_requests_each_get_their_own_rows_of_the_tails_output():
    """Four devices' requests for one tail, batching on: they run together (the server says
    the batch size) and each reply is that device's output as the tail computes it alone;
    requests the tail refuses, batched among themselves, are each refused, and refuse nothing
    else."""
    from edgesplit.runtime.wire import unpack

    config = ServerConfig(
        models=("resnet18",), port=0, input_size=SIZE, lanes=1, batch_max=4, batch_delay_s=1.0
    )
    edge = EdgeServer(config)
    edge.start()
    try:
        with DeviceClient("resnet18", f"127.0.0.1:{edge.port}", input_size=SIZE) as client:
            head, tail = client.halves(3)
            model, cut = wire_id("resnet18"), wire_id(client.graph.fx_key(client.graph.cut(3)))
            inputs = [torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(i))
                      for i in range(4)]  # fmt: skip
            with torch.no_grad():
                crossing = [head(x) for x in inputs]
                alone = [tail(*c) for c in crossing]
            requests = [pack(REQUEST, model, cut, i + 1, c, threads=1) for i, c in
                        enumerate(crossing)]  # fmt: skip
            results = _batched_calls(edge.port, requests)
            assert all(code == grpc.StatusCode.OK for code, _, _ in results)
            assert max(size for _, _, size in results) >= 2  # they ran together
            for i, (_, reply, _) in enumerate(results):
                message = unpack(reply)
                assert message.request_id == i + 1
                torch.testing.assert_close(message.tensors[0], alone[i], rtol=1e-5, atol=1e-5)
            wrong = [pack(REQUEST, model, cut, 9, [c[0].to(torch.int64)]) for c in crossing[:2]]
            mixed = _batched_calls(edge.port, [*wrong, *requests[:2]])
            assert [code for code, _, _ in mixed[:2]] == [grpc.StatusCode.INVALID_ARGUMENT] * 2
            assert [code for code, _, _ in mixed[2:]] == [grpc.StatusCode.OK] * 2
            assert edge.state()["lane_restarts"] == 0
    finally:
        edge.stop()


def test_folded_halves_run_on_both_sides_and_give_the_unsplit_output():
    """Server and client fold their halves' BatchNorms: each output is exactly the two folded
    halves run here, within float rounding of the unsplit model, at a cut that separates a
    convolution from its BatchNorm too."""
    edge = EdgeServer(ServerConfig(models=("resnet18",), port=0, input_size=SIZE, lanes=1,
                                   fold_batchnorm=True))  # fmt: skip
    edge.start()
    try:
        with DeviceClient("resnet18", f"127.0.0.1:{edge.port}", input_size=SIZE,
                          fold_batchnorm=True) as client:  # fmt: skip
            x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(7))
            expected = _reference(client, x)
            differs = False
            for cut in (0, 1, 2, len(client.graph.cuts()) // 2):  # 1: conv1 | bn1
                output, record = client.run(x, cut, threads=1)
                assert record.offloaded and record.fallback is None
                head, tail = client.shared.halves(cut)  # folded: fold_batchnorm above
                assert fold_batchnorm(head)[1] == fold_batchnorm(tail)[1] == 0
                plain_head, plain_tail = split(client.model, client.graph, client.graph.cut(cut))
                with torch.no_grad():
                    assert torch.equal(output, tail(*head(x))), cut
                    differs |= not torch.equal(output, plain_tail(*plain_head(x)))
                scale = expected.abs().max().item()
                assert torch.allclose(output, expected, rtol=1e-4, atol=1e-4 * scale), cut
            assert differs  # the folded weights are not the unfolded ones
    finally:
        edge.stop()
