"""The gRPC plumbing every role shares: channels and servers with the same message limits, the
shared-secret token (``authorization: Bearer TOKEN``, checked in constant time on every call but
the health check) and optional TLS, for the data plane (``edgesplit.Tail``) and the control plane
(``edgesplit.control.v1.Control``) alike."""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import ssl
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc

from edgesplit.errors import InvalidParameterError

TOKEN_KEY = "authorization"


@dataclass(frozen=True)
class Security:
    """What a role needs to talk to the others: the shared token (None: none) and TLS. A server
    serves TLS with ``tls_cert`` and ``tls_key``; a client trusts ``tls_ca`` (PEM paths)."""

    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InvalidParameterError("tls", "one file", "both --tls-cert and --tls-key")
        try:  # the files checked now, by Python's ssl: gRPC would only fail to listen or connect
            if self.tls_cert is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                option, path = "--tls-cert", self.tls_cert
                context.load_cert_chain(read_pem_path(path, option), self.tls_key)
            if self.tls_ca is not None:
                option, path = "--tls-ca", self.tls_ca
                ssl.create_default_context(cafile=read_pem_path(path, option))
        except (ssl.SSLError, ValueError) as error:
            said = "a PEM certificate and its key" if option == "--tls-cert" else "PEM certificates"
            raise InvalidParameterError(option, path, f"{said} ({error})") from None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """What a call carries: the token, if there is one."""
        return ((TOKEN_KEY, f"Bearer {self.token}"),) if self.token else ()


def open_channel(
    address: str, security: Security, max_message_bytes: int = 4 * 2**20, retry_s: float = 1.0
) -> grpc.Channel:
    """A channel to ``address`` (TLS when ``security.tls_ca`` is set) that reconnects soon after
    the peer comes back (gRPC's default backoff grows to 2 minutes)."""
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", max(200, int(1000 * retry_s))),
    ]
    if security.tls_ca is not None:
        credentials = grpc.ssl_channel_credentials(read_pem(security.tls_ca, "--tls-ca"))
        return grpc.secure_channel(address, credentials, options)
    return grpc.insecure_channel(address, options)


def grpc_server(
    workers: int, security: Security, max_message_bytes: int = 4 * 2**20
) -> grpc.Server:
    """A gRPC server with the token check when ``security`` has a token."""
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),  # a port in use is an error, not a shared port
    ]
    interceptors: Sequence[grpc.ServerInterceptor] = (
        [TokenCheck(security.token)] if security.token else []
    )
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers), options=options,
        interceptors=interceptors,
    )  # fmt: skip


def bind(
    server: grpc.Server, host: str, port: int, security: Security, option: str = "--port"
) -> int:
    """Listen on ``host:port`` (TLS when ``security`` has a certificate); returns the port
    (the free one picked for port 0). A port in use is refused naming ``option``."""
    check_host(host, "--listen" if option == "--listen" else "--host")
    address = f"{host}:{port}"
    try:
        if security.tls_cert is not None:
            key = read_pem(security.tls_key, "--tls-key")
            credentials = grpc.ssl_server_credentials(
                [(key, read_pem(security.tls_cert, "--tls-cert"))]
            )
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise InvalidParameterError(option, port, f"a free port on {host} (this one is in use)")
    return bound


class TokenCheck(grpc.ServerInterceptor):
    """Every call but the health check must carry ``authorization: Bearer TOKEN`` (compared in
    constant time)."""

    def __init__(self, token: str) -> None:
        self.expected = f"Bearer {token}".encode()

        def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid token is required")

        self.refusal = grpc.unary_unary_rpc_method_handler(refuse)

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith("/grpc.health"):
            return continuation(handler_call_details)  # readiness probes need no token
        given = dict(handler_call_details.invocation_metadata or ()).get(TOKEN_KEY, "")
        if hmac.compare_digest(str(given).encode(), self.expected):
            return continuation(handler_call_details)
        return self.refusal


def read_token(path: str | None, variable: str = "EDGESPLIT_TOKEN") -> str | None:
    """The shared secret from a file (its first line), else from the environment variable, else
    None (no authentication)."""
    if path is not None:
        try:
            text = Path(path).read_text().strip()
        except OSError as error:
            raise InvalidParameterError(
                "--token-file", path, f"a readable file ({error.strerror})"
            ) from None
        if not text:
            raise InvalidParameterError("--token-file", path, "a file holding the token")
        return text.splitlines()[0]
    return os.environ.get(variable) or None


def read_pem_path(path: str | None, option: str) -> str:
    """``path`` if it is a readable file, else the error naming ``option``."""
    read_pem(path, option)
    return str(path)


def read_pem(path: str | None, option: str) -> bytes:
    try:
        return Path(str(path)).read_bytes()
    except OSError as error:
        raise InvalidParameterError(
            option, path, f"a readable PEM file ({error.strerror})"
        ) from None


def check_host(host: str, option: str) -> None:
    """``host`` as an address to listen on: an IP address (IPv6 in brackets or not), or a name
    this machine resolves. Digits and dots that are no IPv4 address are refused without asking a
    resolver (glibc would look ``256.1.1.1`` up as a name)."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
        return
    except ValueError:
        pass
    if not bare or all(c.isdigit() or c == "." for c in bare):
        raise InvalidParameterError(option, host, "an IP address or a host name")
    try:
        socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except OSError as error:
        raise InvalidParameterError(
            option, host, f"an address or a name this machine resolves ({error.strerror})"
        ) from None


def host_port(text: str, option: str, any_port: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) as a host and a port in 1..65535 (0 too, any free port,
    with ``any_port``)."""
    host, sep, port = text.rpartition(":")
    low = 0 if any_port else 1
    if not sep or not host or not port.isdigit() or not low <= int(port) <= 65535:
        raise InvalidParameterError(option, text, f"HOST:PORT with a port in {low}..65535")
    return host, int(port)
