"""vrouter's traffic generator: a DPDK engine in C (loadgen/) driven from
Python, with TRex's stateless stream API.

    from vrouter.loadgen import Generator
    from vrouter.loadgen.stl import *      # STLStream, STLPktBuilder, Ether, IP...

    with Generator(["loop"]) as gen:
        result = gen.run("imix", rate="1mpps", duration=5)

Modules: stl (the STL names), streams/packet/vm (their implementation),
profile (loading profile files), compiler (streams -> engine program),
engine (the process), runner (Generator), ndr (the NDR/PDR search),
stats (results), report (JSON, tables, plots), ports, rates.
"""

from .errors import EngineError, LoadgenError, PortError, ProfileError, RateError
from .ndr import NdrResult, NdrSettings, ndr_search
from .runner import Generator, Plan, ProgressLine
from .stats import Latency, TrialResult

__all__ = ["EngineError", "Generator", "Latency", "LoadgenError", "NdrResult", "NdrSettings",
           "Plan", "PortError", "ProfileError", "ProgressLine", "RateError", "TrialResult",
           "ndr_search"]
