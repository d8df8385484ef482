"""Live split inference: the wire format, the edge server, the device client and the controller
that drives them with the same policies as the simulator (docs/runtime.md)."""

from edgesplit.runtime.client import DeviceClient, TaskRecord, TokenBucket
from edgesplit.runtime.server import EdgeServer, ServerConfig
from edgesplit.runtime.transport import read_token
from edgesplit.runtime.wire import WireError, pack, unpack, wire_id

__all__ = [
    "DeviceClient",
    "EdgeServer",
    "ServerConfig",
    "TaskRecord",
    "TokenBucket",
    "WireError",
    "pack",
    "read_token",
    "unpack",
    "wire_id",
]
