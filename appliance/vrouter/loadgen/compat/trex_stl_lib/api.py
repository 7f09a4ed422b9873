"""Shim: `from trex_stl_lib.api import *` in a TRex profile."""
from vrouter.loadgen.stl import *  # noqa: F401, F403
