"""What every service shares: domain errors -> gRPC status codes (the only
place that mapping lives), and small conversions."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import logging
import threading
from ipaddress import IPv4Address, IPv4Interface

import grpc

from ..core.errors import (
    AlreadyExists,
    DataplaneRejected,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    VrouterError,
)
from ..dataplane.client import DataplaneUnavailable

log = logging.getLogger("vrouter.api")

CODES: dict[type, grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    DataplaneRejected: grpc.StatusCode.ABORTED,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _code(e: VrouterError) -> grpc.StatusCode:
    for cls in type(e).__mro__:
        if cls in CODES:
            return CODES[cls]
    return grpc.StatusCode.INTERNAL


def _internal(fn, context, e: Exception) -> None:
    """A bug, not the client's fault: INTERNAL naming the exception, logged
    with its traceback (an abort() the method made itself passes through)."""
    if context.code() is not None:
        raise e
    log.exception("%s failed", fn.__qualname__)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error in {fn.__name__} "
                                            f"({type(e).__name__}: {e}); see the log")


def rpc(fn):
    """Wraps a servicer method (unary or streaming): domain errors become
    statuses with their message; anything else is INTERNAL and logged."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(self, request, context):
            try:
                yield from fn(self, request, context)
            except VrouterError as e:
                context.abort(_code(e), str(e))
            except DataplaneUnavailable as e:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"dataplane unavailable: {e}")
            except Exception as e:  # noqa: BLE001 - any bug becomes a clear status
                _internal(fn, context, e)
        return stream

    @functools.wraps(fn)
    def unary(self, request, context):
        try:
            return fn(self, request, context)
        except VrouterError as e:
            context.abort(_code(e), str(e))
        except DataplaneUnavailable as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"dataplane unavailable: {e}")
        except Exception as e:  # noqa: BLE001 - any bug becomes a clear status
            _internal(fn, context, e)
    return unary


def parse_ip(field: str, value: str) -> IPv4Address:
    try:
        return IPv4Address(value)
    except ValueError:
        raise InvalidArgument(f"{field}: {value!r} is not an IPv4 address") from None


def parse_iface_addr(field: str, value: str) -> IPv4Interface:
    if "/" not in value:
        raise InvalidArgument(f"{field}: {value!r} needs a prefix length, e.g. {value}/24")
    try:
        return IPv4Interface(value)
    except ValueError:
        raise InvalidArgument(f"{field}: {value!r} is not an IPv4 address/length") from None


def check_mac(field: str, value: str) -> str:
    from ..config.loader import MAC_RE
    if not MAC_RE.match(value) or int(value.split(":")[0], 16) & 1:
        raise InvalidArgument(f"{field}: {value!r} is not a unicast MAC address")
    return value.lower()


def check_name(field: str, value: str) -> str:
    from ..config.loader import NAME_RE
    if not NAME_RE.match(value or ""):
        raise InvalidArgument(f"{field}: {value!r} is not a valid name (letter first, then "
                              "letters, digits, '_', '.', '-'; at most 15 characters)")
    return value


_gc_pauses = 0
_gc_lock = threading.Lock()


@contextlib.contextmanager
def no_gc(active: bool = True):
    """Pause the cyclic garbage collector around a bulk operation. It makes
    millions of acyclic objects (routes), and full collections over them
    would cost more than the work itself. Nests across threads."""
    global _gc_pauses
    if not active:
        yield
        return
    with _gc_lock:
        _gc_pauses += 1
        gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()


def running_dataplane(engine):
    """The dataplane's client, or Unavailable while it is down."""
    dp = engine.executor.dp
    if dp is None or not engine.dataplane_up:
        raise Unavailable("the dataplane is down (restarting); try again shortly")
    return dp


@contextlib.contextmanager
def dataplane_refusals(what: str):
    """A dataplane refusal of a read-only or diagnostic request as the domain
    error it is (the dataplane's message names what was wrong)."""
    import errno

    from ..dataplane.client import DataplaneError
    try:
        yield
    except DataplaneError as e:
        cls = {errno.EINVAL: InvalidArgument, errno.ENOENT: NotFound,
               errno.EBUSY: ResourceExhausted, errno.ENOMEM: ResourceExhausted,
               errno.ENOSPC: ResourceExhausted}.get(e.errno, DataplaneRejected)
        raise cls(f"{what}: {e.msg}") from None
