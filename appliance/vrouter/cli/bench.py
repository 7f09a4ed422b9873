"""`vrouter bench`: the benchmark (bench/ndrbench.py): NDR and PDR of this
router beside dpdk-testpmd, Open vSwitch with DPDK and the Linux kernel,
over memif and over veth, with one generator; JSON and Markdown reports in
bench/results/. Needs root and a checkout of the repository (it builds
what it measures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from . import arg, command, group
from .client import CliError

group("bench", "the benchmark: NDR/PDR of vrouter and its peers (memif, veth)", rank=86)

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "bench" / "ndrbench.py"


@command("bench", "the benchmark: NDR/PDR of vrouter and its peers (memif, veth)",
         arg("--quick", action="store_true",
             help="smoke test: 0.25 s trials, 5%% resolution, no OVS and no 1M table"),
         arg("--only", metavar="NAMES",
             help="comma-separated contenders: ceiling, testpmd, ovs, vrouter, vrouter-1m, "
                  "vrouter-nat, vrouter-nat-setup, ceiling-veth, vrouter-afp, kernel, "
                  "kernel-nat"),
         arg("--skip", metavar="NAMES", help="contenders to leave out"),
         arg("--trial-duration", type=float, metavar="S", help="seconds per trial (default 1)"),
         arg("--resolution", type=float, metavar="R", help="search resolution (default 0.01)"),
         arg("--hugepages", type=int, metavar="N", help="2 MB pages to reserve (default 1024)"),
         arg("--no-probe", action="store_true", help="no core-to-core probe around trials"),
         arg("--perf", action="store_true",
             help="profile each DUT (perf) during its saturating trial; top functions in the "
                  "report"),
         arg("--quiet-wait", type=float, metavar="S",
             help="seconds to wait before a trial for other processes to leave the CPUs "
                  "(default 20, --quick 2)"),
         arg("--results-dir", metavar="DIR", help="default bench/results"),
         api=False)
def bench(ctx, a) -> int:
    if not SCRIPT.exists():
        raise CliError(f"{SCRIPT} not found: `vrouter bench` runs from a checkout")
    spec = importlib.util.spec_from_file_location("vrouter_ndrbench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    argv = []
    for flag in ("quick", "no_probe", "perf"):
        if getattr(a, flag):
            argv.append("--" + flag.replace("_", "-"))
    for opt in ("only", "skip", "trial_duration", "resolution", "hugepages", "results_dir",
                "quiet_wait"):
        v = getattr(a, opt)
        if v is not None:
            argv += ["--" + opt.replace("_", "-"), str(v)]
    return mod.main(argv)
