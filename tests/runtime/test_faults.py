"""Faults on 127.0.0.1: overload, a killed server, a dead lane, a dropped reply, shutdown with
work in flight. Every task completes (on the server or, when it cannot, on the device) with the
unsplit model's output, and says where it ran and why."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig

from .conftest import SIZE, ServerProcess, free_port, gated, healthy, wait_until

HELD = 1  # the gated model's cut whose tail waits while the hold file exists


@pytest.fixture
def hold(tmp_path):
    """The gated model's hold file, not yet created: a test creates it once the server and the
    clients have traced the model (tracing runs the model, which would wait too)."""
    path = tmp_path / "hold"
    yield path
    path.unlink(missing_ok=True)


def _expected(client: DeviceClient) -> torch.Tensor:
    with torch.no_grad():
        return client.model(client.example)


def test_overload_sheds_the_device_falls_back_and_the_server_recovers(hold):
    """One lane, one core, room for one waiting request: with a tail held on the lane and one
    request queued behind it, the next is shed at once; when the hold lifts, all complete."""
    spec = gated(hold)
    config = ServerConfig(models=(spec,), port=0, input_size=SIZE, lanes=1, cores=1, queue_limit=1)
    edge = EdgeServer(config)
    edge.start()
    address = f"127.0.0.1:{edge.port}"
    devices = [DeviceClient(spec, address, input_size=SIZE, timeout_s=120) for _ in range(3)]
    expected = _expected(devices[0])
    hold.touch()
    try:
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(devices[0].run, devices[0].example, HELD, 1)
            wait_until(lambda: edge.state()["threads_in_use"] == 1)
            queued = pool.submit(devices[1].run, devices[1].example, HELD, 1)
            wait_until(lambda: edge.state()["waiting"] == 1)
            output, shed = devices[2].run(devices[2].example, HELD, threads=1)
            assert shed.fallback == "RESOURCE_EXHAUSTED" and not shed.offloaded
            assert torch.equal(output, expected)
            hold.unlink()
            for future in (running, queued):
                output, record = future.result()
                assert record.offloaded and torch.equal(output, expected)
        output, record = devices[2].run(devices[2].example, HELD, threads=1)
        assert record.offloaded and torch.equal(output, expected)  # recovered
        assert edge.state()["counts"] == {"served": 3, "shed": 1}
    finally:
        for device in devices:
            device.close()
        edge.stop()


@pytest.mark.slow  # a server process started twice: 14-19 s
def test_a_killed_server_loses_no_task_and_offloading_resumes_when_it_returns(hold):
    """A server in its own process, killed with a task in flight and again between tasks: each
    task finishes on the device (UNAVAILABLE); once the server is back on its port, offloading
    resumes."""
    spec = gated(hold)
    config = ServerConfig(models=(spec,), port=free_port(), input_size=SIZE, lanes=1)
    server = ServerProcess(config)
    server.start()
    client = DeviceClient(spec, server.address, input_size=SIZE, timeout_s=60, retry_s=0)
    expected = _expected(client)
    records = []
    try:
        output, record = client.run(client.example, HELD)
        records.append(record)
        assert record.offloaded and torch.equal(output, expected)
        hold.touch()  # the next task stays on the server until it is killed
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(client.run, client.example, HELD)
            wait_until(lambda: (client.server_state() or {}).get("threads_in_use", 0) > 0)
            server.kill()
            output, record = in_flight.result()
        records.append(record)
        assert record.fallback == "UNAVAILABLE" and torch.equal(output, expected)
        hold.unlink()
        for _ in range(3):  # the server is gone: every task still completes
            output, record = client.run(client.example, HELD)
            records.append(record)
            assert record.fallback == "UNAVAILABLE" and torch.equal(output, expected)
        server.start()  # back on the same port
        assert client.connected(timeout_s=30)
        output, record = client.run(client.example, HELD)
        records.append(record)
        assert record.offloaded and torch.equal(output, expected)
    finally:
        client.close()
        server.stop()
    assert len(records) == 6
    assert [r.offloaded for r in records] == [True, False, False, False, False, True]


def test_a_dead_lane_fails_one_task_which_completes_locally(hold):
    spec = gated(hold)
    edge = EdgeServer(ServerConfig(models=(spec,), port=0, input_size=SIZE, lanes=1))
    edge.start()
    client = DeviceClient(spec, f"127.0.0.1:{edge.port}", input_size=SIZE)
    expected = _expected(client)
    try:
        (lane,) = edge._lanes
        os.kill(lane.process.pid, signal.SIGKILL)
        lane.process.join()
        output, record = client.run(client.example, HELD)
        assert record.fallback == "INTERNAL" and torch.equal(output, expected)
        output, record = client.run(client.example, HELD)  # a new lane took over
        assert record.offloaded and torch.equal(output, expected)
        assert edge.state()["counts"] == {"failed": 1, "served": 1}
    finally:
        client.close()
        edge.stop()


def test_dropped_replies_end_in_the_deadline_and_complete_locally(hold):
    spec = gated(hold)
    config = ServerConfig(models=(spec,), port=0, input_size=SIZE, lanes=1, drop_replies=0.5)
    edge = EdgeServer(config)
    edge.start()
    client = DeviceClient(spec, f"127.0.0.1:{edge.port}", input_size=SIZE, timeout_s=0.5)
    expected = _expected(client)
    try:
        records = []
        for _ in range(12):
            output, record = client.run(client.example, HELD)
            assert torch.equal(output, expected)
            records.append(record)
    finally:
        client.close()
        edge.stop()
    fallbacks = [r.fallback for r in records]
    assert set(fallbacks) == {None, "DEADLINE_EXCEEDED"}  # seed 0 drops some, not all
    assert edge.counts["dropped"] == fallbacks.count("DEADLINE_EXCEEDED")


def test_stopping_finishes_the_task_in_flight_and_refuses_new_ones(hold):
    spec = gated(hold)
    edge = EdgeServer(ServerConfig(models=(spec,), port=0, input_size=SIZE, lanes=1))
    edge.start()
    address = f"127.0.0.1:{edge.port}"
    client = DeviceClient(spec, address, input_size=SIZE, timeout_s=120)
    expected = _expected(client)
    hold.touch()
    try:
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(client.run, client.example, HELD)
            wait_until(lambda: edge.state()["threads_in_use"] > 0)
            stopping = threading.Thread(target=edge.stop, kwargs={"grace_s": 120})
            stopping.start()
            wait_until(lambda: not healthy(address))
            hold.unlink()
            output, record = in_flight.result()
            stopping.join()
        assert record.offloaded and torch.equal(output, expected)
        output, record = client.run(client.example, HELD)
        assert record.fallback == "UNAVAILABLE" and torch.equal(output, expected)
    finally:
        client.close()
        edge.stop()


def test_a_message_over_the_limit_is_refused_with_resource_exhausted(hold):
    spec = gated(hold)
    config = ServerConfig(models=(spec,), port=0, input_size=SIZE, lanes=1, max_message_bytes=2**20)
    edge = EdgeServer(config)
    edge.start()
    client = DeviceClient(spec, f"127.0.0.1:{edge.port}", input_size=SIZE)
    big = torch.randn(1, 3, 300, 300)  # 1.08 MB of input crosses at cut 0
    try:
        output, record = client.run(big, 0)
        assert record.fallback == "RESOURCE_EXHAUSTED"
        with torch.no_grad():
            assert torch.equal(output, client.model(big))
        output, record = client.run(client.example, HELD)
        assert record.offloaded
    finally:
        client.close()
        edge.stop()


def _lanes(pid: int) -> set[int]:
    """The lanes process ``pid`` started (its multiprocessing-spawned children), from /proc."""
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as file:
                found |= {int(child) for child in file.read().split()}
    except OSError:
        return set()
    lanes = set()
    for child in found:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as file:
                if b"spawn_main" in file.read():
                    lanes.add(child)
        except OSError:
            continue
    return lanes


def _regions(pids: set[int]) -> set[str]:
    """The lanes' shared-memory files that processes ``pids`` hold (open or mapped), as /proc
    names them: a name ending in " (deleted)" no longer exists in its folder."""
    found = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            with open(f"/proc/{pid}/maps") as file:
                found |= {line.split(maxsplit=5)[-1].strip() for line in file if "/" in line}
        except OSError:
            continue
    return {name for name in found if "edgesplit-lane-" in name}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("sig", "moment"),
    [
        pytest.param(signal.SIGTERM, "loading", marks=pytest.mark.slow),  # 13 s each
        pytest.param(signal.SIGKILL, "loading", marks=pytest.mark.slow),
        pytest.param(signal.SIGTERM, "at once", marks=pytest.mark.slow),
        pytest.param(signal.SIGKILL, "serving", marks=pytest.mark.slow),
        pytest.param(signal.SIGTERM, "serving", marks=pytest.mark.slow),
    ],
)
def test_a_server_killed_at_any_moment_leaves_no_file_or_lane(sig, moment):
    """`edgesplit serve` signalled at once, while its two lanes load the models, or while it
    serves: no shared-memory file of its lanes has a name at any time (a SIGKILL cannot leave
    one behind), and its lanes leave with it."""
    import subprocess
    import sys

    from .conftest import free_port

    address = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "edgesplit", "serve", "--models", "resnet18", "--port",
               address.rpartition(":")[2], "--input-size", str(SIZE), "--lanes", "2"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if moment == "serving":
            wait_until(lambda: healthy(address) or server.poll() is not None)
        elif moment == "loading":
            wait_until(lambda: len(_lanes(server.pid)) == 2 or server.poll() is not None)
        lanes = _lanes(server.pid)
        assert server.poll() is None and (moment == "at once" or len(lanes) == 2)
        held = _regions({server.pid, *lanes})
        assert moment == "at once" or held  # the regions it made
        assert all(name.endswith(" (deleted)") for name in held)  # none has a name left
        server.send_signal(sig)
        server.wait(60)
        wait_until(lambda: not any(_alive(pid) for pid in lanes), timeout_s=30)
        assert not any(os.path.exists(name.removesuffix(" (deleted)")) for name in held)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
