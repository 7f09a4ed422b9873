"""The connection to the API, and the errors the CLI reports.

Exit codes: 2 a bad argument (found before contacting the server), 1 the
server refused (any gRPC status it returned), 3 the API cannot be reached
(no socket, connection refused, no answer within --timeout).

Over TCP the API normally wants mutual TLS: --tls-ca (the CA that signed the
server's certificate), --tls-cert and --tls-key (ours, signed by the CA the
server trusts), or VROUTER_TLS_CA, VROUTER_TLS_CERT, VROUTER_TLS_KEY. The
unix socket uses no TLS (its file mode is the access control).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEFAULT_API = "unix:/run/vrouter/api.sock"
MAX_MSG = 512 * 1024 * 1024  # a million-route `route show`


class CliError(Exception):
    """Printed as `vrouter: <message>`; the process exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str | None) -> None:
        super().__init__(message)
        self.message = message  # None: already reported (argparse did)


class UsageError(CliError):
    exit_code = 2


class ServerError(CliError):
    exit_code = 1

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code


class Unreachable(CliError):
    exit_code = 3


def target(address: str) -> str:
    """`--api` text -> a gRPC target: a path, `unix:PATH` or `host:port`."""
    if address.startswith("unix:"):
        return address
    if "/" in address or ":" not in address:
        return f"unix:{Path(address).absolute()}"
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--api: {address!r} is not a socket path, unix:PATH or host:port")
    return address


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TCP connection: `ca` verifies the server; `cert` and
    `key` are our client certificate (mutual TLS)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    def __bool__(self) -> bool:
        return bool(self.ca or self.cert or self.key)

    def credentials(self) -> grpc.ChannelCredentials:
        if bool(self.cert) != bool(self.key):
            raise UsageError("--tls-cert and --tls-key go together (a client certificate "
                             "and its key)")

        def read(option: str, path: str | None) -> bytes | None:
            if not path:
                return None
            try:
                return Path(path).read_bytes()
            except OSError as e:
                raise UsageError(f"{option}: cannot read {path}: {e.strerror}") from None

        return grpc.ssl_channel_credentials(read("--tls-ca", self.ca),
                                            read("--tls-key", self.key),
                                            read("--tls-cert", self.cert))


def _unix_path(tgt: str) -> str | None:
    if not tgt.startswith("unix:"):
        return None
    path = tgt[len("unix:"):]
    return path.removeprefix("//")


class Api:
    """Stubs of every service, connected on first use. Calls raise CliError."""

    def __init__(self, address: str, timeout: float = 10.0,
                 tls: TlsFiles | None = None) -> None:
        self.target = target(address)
        self.timeout = timeout
        self.tls = tls or TlsFiles()
        self._channel: grpc.Channel | None = None

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = self._connect()
        return self._channel

    def _connect(self) -> grpc.Channel:
        """A channel on which the API has answered: a health check first, so
        that "cannot connect" (exit 3) is told apart from what the server
        says (exit 1)."""
        path = _unix_path(self.target)
        if path is not None and not os.path.exists(path):
            raise Unreachable(f"cannot reach the API at {self.target}: no such socket "
                              "(is the router running? see --api or VROUTER_API)")
        options = [("grpc.max_receive_message_length", MAX_MSG),
                   ("grpc.max_send_message_length", MAX_MSG)]
        if path is None and self.tls:
            ch = grpc.secure_channel(self.target, self.tls.credentials(), options=options)
        else:
            ch = grpc.insecure_channel(self.target, options=options)
        try:
            health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(),
                                                 timeout=self.timeout)
        except grpc.RpcError as e:
            ch.close()
            why = (f"no answer within {self.timeout:g}s (--timeout)"
                   if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED else e.details())
            if path is None and not self.tls:
                why += (" (a TCP API normally wants mutual TLS: --tls-ca, --tls-cert, "
                        "--tls-key or VROUTER_TLS_CA, VROUTER_TLS_CERT, VROUTER_TLS_KEY)")
            raise Unreachable(f"cannot reach the API at {self.target}: {why}") from None
        return ch

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def stub(self, stub_class) -> _Stub:
        return _Stub(self, stub_class)

    def error(self, e: grpc.RpcError) -> CliError:
        code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unreachable(f"{code.name}: no answer within {self.timeout:g}s (--timeout)")
        if code == grpc.StatusCode.CANCELLED:
            return CliError(f"{code.name}: {e.details()}")
        return ServerError(code, e.details() or "(no details)")


_DEFAULT = object()


class _Stub:
    """A service stub whose methods apply the timeout and turn gRPC errors
    into CliError, for unary calls and streams alike. `timeout=None` for a
    stream that runs until interrupted."""

    def __init__(self, api: Api, stub_class) -> None:
        self._api = api
        self._stub_class = stub_class
        self._stub = None

    def __getattr__(self, name: str):
        def call(request, timeout=_DEFAULT):
            if self._stub is None:  # connect now: the arguments are all checked
                self._stub = self._stub_class(self._api.channel)
            method = getattr(self._stub, name)
            t = self._api.timeout if timeout is _DEFAULT else timeout
            try:
                result = method(request, timeout=t)
            except grpc.RpcError as e:
                raise self._api.error(e) from None
            return result if isinstance(result, Message) else self._stream(result)

        return call

    def _stream(self, call):
        try:
            yield from call
        except grpc.RpcError as e:
            raise self._api.error(e) from None
        finally:
            call.cancel()
