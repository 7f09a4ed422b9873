"""gRPC services, one module per feature. Each registers itself with
`@register`; api.py adds every registered service to the server."""

from __future__ import annotations

from typing import Callable

REGISTRY: list[tuple[Callable, type]] = []


def register(add_to_server: Callable):
    """Class decorator: `@register(route_pb2_grpc.add_RouteServiceServicer_to_server)`."""
    def deco(cls: type) -> type:
        REGISTRY.append((add_to_server, cls))
        return cls
    return deco


def load_all() -> None:
    from . import (capture, config, events, interfaces, nat, neighbors, routes,  # noqa: F401
                   stats, trace, vrfs)
