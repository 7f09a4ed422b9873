"""Shim: the oldest `from trex_stl_api import *` profiles."""
from vrouter.loadgen.stl import *  # noqa: F401, F403
