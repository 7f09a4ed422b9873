"""The gRPC server: every registered service, standard health checking and
server reflection (so grpcurl works without the .proto files), on a unix
socket (mode 0660) and optionally TCP with TLS or mutual TLS."""

from __future__ import annotations

import os
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from . import services
from .config.model import ApiConfig
from .v1 import (config_pb2, events_pb2, interface_pb2, nat_pb2, neighbor_pb2, route_pb2,
                 stats_pb2, vrf_pb2)

MAX_MSG = 512 * 1024 * 1024  # bulk route loads


def service_names() -> list[str]:
    mods = (interface_pb2, vrf_pb2, route_pb2, neighbor_pb2, nat_pb2, config_pb2, stats_pb2,
            events_pb2)
    return [s.full_name for m in mods for s in m.DESCRIPTOR.services_by_name.values()]


class ApiServer:
    def __init__(self, app, cfg: ApiConfig) -> None:
        services.load_all()
        self.cfg = cfg
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", MAX_MSG),
                     ("grpc.max_send_message_length", MAX_MSG)])
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
            if cfg.tls_cert:
                creds = grpc.ssl_server_credentials(
                    [(Path(cfg.tls_key).read_bytes(), Path(cfg.tls_cert).read_bytes())],
                    root_certificates=Path(cfg.tls_client_ca).read_bytes()
                    if cfg.tls_client_ca else None,
                    require_client_auth=bool(cfg.tls_client_ca))
                self.port = self.server.add_secure_port(cfg.tcp, creds)
            else:
                self.port = self.server.add_insecure_port(cfg.tcp)
        self.set_serving(False)

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
