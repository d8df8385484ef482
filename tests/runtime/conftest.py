"""Real edge servers on 127.0.0.1 for the runtime tests: in this process (their lanes are worker
processes) or as a process of their own, which a test can kill."""

from __future__ import annotations

import multiprocessing
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig
from edgesplit.runtime.client import healthy

HERE = Path(__file__).resolve().parent
NET = f"{HERE.parents[1] / 'examples' / 'mymodels.py'}:Net"  # residual + branches: 2-tensor cuts
MODELS = ("resnet18", "mobilenet_v2", NET, "resnet18@structured-0.5")  # and a pruned variant
SIZE = 64
TOKEN = "s3cret-for-tests"


def gated(hold: Path) -> str:
    """The spec of a model whose tail (after cut position 1) waits while ``hold`` exists."""
    return f"{HERE / 'gate.py'}:Gated:path={hold}"


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until it holds (a state change in another process or thread)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.002)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def server() -> Iterator[EdgeServer]:
    """Three models (and a pruned variant), two lanes, a token: one per test process, shared by
    the modules that only send it requests."""
    config = ServerConfig(models=MODELS, port=0, input_size=SIZE, lanes=2, token=TOKEN)
    edge = EdgeServer(config)
    edge.start()
    yield edge
    edge.stop()


@pytest.fixture(scope="session")
def clients(server: EdgeServer) -> Iterator[dict[str, DeviceClient]]:
    made = {
        spec: DeviceClient(spec, f"127.0.0.1:{server.port}", token=TOKEN, input_size=SIZE)
        for spec in MODELS
    }
    yield made
    for client in made.values():
        client.close()


def _serve(config: ServerConfig) -> None:
    from edgesplit.runtime.server import serve

    serve(config)


class ServerProcess:
    """An edge server in a process of its own, on a fixed port (so it can come back there)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.address = f"{config.host}:{config.port}"
        self.process: multiprocessing.Process | None = None

    def start(self) -> None:
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(self.config,)
        )
        self.process.start()
        wait_until(lambda: healthy(self.address) or not self.process.is_alive())
        assert self.process.is_alive(), f"the server exited with {self.process.exitcode}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.join()

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(30)
            if self.process.is_alive():
                self.kill()
