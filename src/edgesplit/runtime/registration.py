"""An edge server's side of the control plane (``edgesplit serve --controller HOST:PORT``): it
registers its data-plane address, models, cores and lanes, then reports its load and health
every ``HEARTBEAT_S``; when the controller does not know it (restarted) or does not answer, it
registers again. The server serves devices all the while: the controller only decides which
device it gets."""

from __future__ import annotations

import threading

import grpc

from edgesplit.runtime.control import PROTOCOL, ControlStub
from edgesplit.runtime.controller import HEARTBEAT_S
from edgesplit.runtime.proto import control_pb2 as pb
from edgesplit.runtime.server import EdgeServer
from edgesplit.runtime.transport import Security, open_channel


class ServerRegistration:
    """Keeps ``server`` registered with the controller at ``controller`` (a thread of its own);
    ``advertise``: the address devices reach it at ("": this host as the controller sees it,
    on the server's port)."""

    def __init__(
        self, server: EdgeServer, controller: str, security: Security, advertise: str = ""
    ) -> None:
        self.server, self.advertise = server, advertise
        self.stub = ControlStub(open_channel(controller, security), security.metadata)
        self.welcome: pb.Welcome | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="registration")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(0.0 if self.welcome is None else HEARTBEAT_S):
            try:
                if self.welcome is None:
                    self.welcome = self._register()
                    continue
                state = self.server.state()
                load = pb.ServerLoad(
                    protocol=PROTOCOL, index=self.welcome.index, run_id=self.welcome.run_id,
                    serving=True, threads_in_use=state["threads_in_use"],
                    waiting=state["waiting"], mean_tail_s=state["mean_tail_s"],
                )  # fmt: skip
                if not self.stub.call("ServerHeartbeat", load, HEARTBEAT_S * 4).known:
                    self.welcome = None
            except grpc.RpcError:
                self.welcome = None
                self.stopped.wait(HEARTBEAT_S * 2)  # the controller is away: try again soon

    def _register(self) -> pb.Welcome:
        config = self.server.config
        hello = pb.ServerHello(
            protocol=PROTOCOL, address=self.advertise, port=self.server.port,
            models=list(config.models), cores=config.total_cores, lanes=config.lane_count,
        )  # fmt: skip
        return self.stub.call("RegisterServer", hello, HEARTBEAT_S * 4)
