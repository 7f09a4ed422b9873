"""Domain errors. The gRPC layer maps each class to one status code, in one place."""

from __future__ import annotations


class VrouterError(Exception):
    """Base: a request that cannot be done; the running state is unchanged."""


class InvalidArgument(VrouterError):
    """A field has a bad value; the message names the field and the value."""


class NotFound(VrouterError):
    pass


class AlreadyExists(VrouterError):
    pass


class FailedPrecondition(VrouterError):
    """Valid on its own, but not in the current state (e.g. a VRF still in use)."""


class Unavailable(VrouterError):
    """The dataplane is down or restarting; try again."""


class DataplaneRejected(VrouterError):
    """The dataplane refused an operation (its message says why)."""


class ResourceExhausted(DataplaneRejected):
    """The dataplane is out of memory or table space (FIB, next hops, ports)."""
