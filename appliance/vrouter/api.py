"""The gRPC server: every registered service, standard health checking and
server reflection (so grpcurl works without the .proto files), on a unix
socket (mode 0660) and optionally TCP with mutual TLS (plaintext or
server-only TLS only when the configuration opts in: api.insecure_tcp).

Bounds: at most api.max_concurrent_rpcs RPCs run at once (streams
included; one more is refused with RESOURCE_EXHAUSTED, never queued behind
them), and a request larger than api.max_request_bytes is refused with
RESOURCE_EXHAUSTED before it is decoded."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from . import services, v1
from .config.model import ApiConfig

MAX_SEND = 512 * 1024 * 1024  # `config show` of a million-route configuration

log = logging.getLogger("vrouter.api")


def proto_modules() -> list:
    """Every generated vrouter.v1 *_pb2 module: a new .proto needs no edit here."""
    named = {m.name for m in pkgutil.iter_modules(v1.__path__)}
    return [importlib.import_module(f"{v1.__name__}.{n}") for n in sorted(named)
            if n.endswith("_pb2")]


def service_names() -> list[str]:
    return [s.full_name for m in proto_modules() for s in m.DESCRIPTOR.services_by_name.values()]


class _Undecodable:
    def __init__(self, error: Exception) -> None:
        self.error = error


class UndecodableRequests(grpc.ServerInterceptor):
    """A request that does not decode as its method's message (truncated,
    a string that is not UTF-8, a wrong wire type) is INVALID_ARGUMENT naming
    the message, rather than the INTERNAL grpc answers by itself."""

    def intercept_service(self, continuation, details):
        h = continuation(details)
        if h is None or h.request_deserializer is None or h.request_streaming:
            return h
        decode = h.request_deserializer
        what = getattr(getattr(decode, "__self__", None), "DESCRIPTOR", None)
        what = what.full_name if what is not None else f"request of {details.method}"

        def safe(data: bytes):
            try:
                return decode(data)
            except Exception as e:  # noqa: BLE001 - whatever the parser says is the reason
                return _Undecodable(e)

        def checked(behavior):
            def call(request, context):
                if isinstance(request, _Undecodable):
                    why = str(request.error) or type(request.error).__name__
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"request: not a valid {what} ({why})")
                return behavior(request, context)
            return call if behavior is not None else None

        return h._replace(request_deserializer=safe, unary_unary=checked(h.unary_unary),
                          unary_stream=checked(h.unary_stream))


class ApiServer:
    def __init__(self, app, cfg: ApiConfig) -> None:
        services.load_all()
        self.cfg = cfg
        # One thread per admitted RPC: a sync server runs each (streams too) on
        # a pool thread, so a smaller pool would queue RPCs it had admitted.
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=cfg.max_concurrent_rpcs,
                                       thread_name_prefix="grpc"),
            maximum_concurrent_rpcs=cfg.max_concurrent_rpcs,
            interceptors=[UndecodableRequests()],
            options=[("grpc.max_receive_message_length", cfg.max_request_bytes),
                     ("grpc.max_send_message_length", MAX_SEND)])
        for add, cls in services.REGISTRY:
            add(cls(app), self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = service_names()
        reflection.enable_server_reflection(
            names + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                     reflection.SERVICE_NAME], self.server)
        sock = Path(cfg.socket)
        sock.parent.mkdir(parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)
        self.server.add_insecure_port(f"unix:{sock}")
        self.port: int | None = None  # the TCP port bound (api.tcp may ask for 0)
        if cfg.tcp:
            self.port = self._listen_tcp(cfg)
        self.set_serving(False)

    def _listen_tcp(self, cfg: ApiConfig) -> int:
        mutual = bool(cfg.tls_cert and cfg.tls_client_ca)
        if not mutual and not cfg.insecure_tcp:  # the loader says so too; API users may not
            raise ValueError(f"api.tcp {cfg.tcp}: a TCP listener needs mutual TLS (api.tls "
                             "cert, key, client_ca) unless api.insecure_tcp is set")
        if cfg.tls_cert:
            creds = grpc.ssl_server_credentials(
                [(Path(cfg.tls_key).read_bytes(), Path(cfg.tls_cert).read_bytes())],
                root_certificates=Path(cfg.tls_client_ca).read_bytes()
                if cfg.tls_client_ca else None,
                require_client_auth=bool(cfg.tls_client_ca))
            port = self.server.add_secure_port(cfg.tcp, creds)
        else:
            port = self.server.add_insecure_port(cfg.tcp)
        if not mutual:
            log.warning("API on TCP %s WITHOUT client authentication (%s, api.insecure_tcp): "
                        "anyone who can reach this port can reconfigure the router",
                        cfg.tcp, "TLS without client certificates" if cfg.tls_cert
                        else "plaintext")
        if not port:
            raise OSError(f"api.tcp: cannot listen on {cfg.tcp}")
        return port

    def start(self) -> None:
        self.server.start()
        os.chmod(self.cfg.socket, 0o660)

    def set_serving(self, up: bool) -> None:
        """Health: SERVING while the dataplane is up (readiness)."""
        status = (health_pb2.HealthCheckResponse.SERVING if up
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in ["", *service_names()]:
            self.health.set(name, status)

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace).wait()
        Path(self.cfg.socket).unlink(missing_ok=True)
