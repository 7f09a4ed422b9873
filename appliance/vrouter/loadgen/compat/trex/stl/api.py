"""Shim: `from trex.stl.api import *` in a TRex profile."""
from vrouter.loadgen.stl import *  # noqa: F401, F403
