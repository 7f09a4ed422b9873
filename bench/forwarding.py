#!/usr/bin/env python3
"""Forwarding benchmark: how many 64-byte packets per second one DUT core
forwards between two memif ports, next to dpdk-testpmd and next to the
generator's own ceiling.

    sudo bench/forwarding.py            # 3 interleaved rounds, 5 s trials
    sudo bench/forwarding.py --quick    # 1 round, 2 s trials: a smoke test
    sudo bench/forwarding.py --dut testpmd --dut vrouter --rounds 5

What it does, and why (the measured background is /work/shared/BENCHMARKING.md):

- Reserves 2 MB hugepages and mounts hugetlbfs if needed, and puts both back
  afterwards, also on error or Ctrl-C. Without hugepages the generator
  itself barely outruns the forwarders and every contender looks the same.
- Builds loadgen/ (vrouter-loadgen and vrouter-c2c-probe) if needed.
- Runs every contender once per round, rounds interleaved, and reports the
  median with min and max: the VM's performance drifts over minutes, and
  interleaving spreads the drift over all contenders alike.
- Generator: one process, one lcore on --gen-cpu, sending on one memif
  port and counting on the other (a separate sink thread on the same core
  would starve the sender). Its ports are memif clients in zero-copy mode.
- DUTs (--dut, default testpmd): one forwarding core on --dut-cpu, memif
  server ports in copy mode, started and listening before the generator
  connects (a memif client that finds no server gives up for good).
- Generator ceiling, measured in the same run: the generator's port 1
  (zero-copy client, sending) connected straight to its own port 0 (server,
  receiving), in one process on one core. Why this and not a trivial
  forwarder such as testpmd io on the other core: any forwarder costs
  something and would be measured along with the generator; here the only
  work besides generating and counting is the one memif copy that some
  side must do anyway, and no second core is involved. It is therefore
  the rate the generator can drive in the best case; a DUT figure says
  something about the DUT only while it stays clearly below it.
  (One server and one zero-copy client avoids the memif zero-copy fd bug,
  which needs two zero-copy ports; loadgen works around that bug for the
  two client ports of a DUT trial, see loadgen/src/memseg_fds.h.)
- Around every trial, a cache-line ping-pong between the two CPUs
  (vrouter-c2c-probe): when the host has placed the vCPUs far apart memif
  throughput drops ~2.5x; such a trial, or one during which either core
  lost its CPU (see fwdbench/trial.py), is run again.
- Cycles per packet for a DUT = TSC Hz / forwarded packets per second,
  valid while the DUT core is saturated (polling at 100% and the
  bottleneck: the generator could send more).
- Writes bench/results/forwarding-<timestamp>.json (everything, every
  attempt) and .md (the table, machine and conditions), prints the table.

Every DPDK process gets its own --file-prefix and --in-memory; their
/var/run/dpdk directories and the memif sockets (in a temporary
directory) are removed, and every process started is killed on exit.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fwdbench.duts import Dut, DutEnv, load_dut_class
from fwdbench.loadgen import GenSettings, Loadgen
from fwdbench.procs import ProcessRegistry
from fwdbench.report import CEILING, summarize, write
from fwdbench.system import BenchError, DpdkPrefixes, Hugepages, machine_info, require_root
from fwdbench.trial import Settings, TrialRunner

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="memif forwarding benchmark: generator ceiling, testpmd io, and "
                    "pluggable DUTs (see the module docstring)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 round of 2-second trials")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--duration", type=float, default=5.0,
                   help="seconds of traffic per trial (default 5)")
    p.add_argument("--dut", action="append", metavar="NAME|module:Class",
                   help="DUT to measure, repeatable: testpmd (default), vrouter, or a "
                        "fwdbench.duts.Dut subclass as module:Class")
    p.add_argument("--size", type=int, default=64,
                   help="frame size in bytes without CRC (default 64)")
    p.add_argument("--dst-count", type=int, default=1,
                   help="destinations to cycle through (default 1)")
    p.add_argument("--dst-step", type=int, default=1,
                   help="addresses between destinations (default 1; 256 puts each in "
                        "its own /24)")
    p.add_argument("--rsize", type=int, default=10, choices=range(6, 15), metavar="6..14",
                   help="memif ring size as log2 (default 10 = 1024 descriptors)")
    p.add_argument("--gen-cpu", type=int, default=0, help="generator CPU (default 0)")
    p.add_argument("--dut-cpu", type=int, default=1, help="DUT forwarding CPU (default 1)")
    p.add_argument("--retries", type=int, default=1,
                   help="re-runs of a disturbed or failed trial (default 1)")
    p.add_argument("--probe-bad-cycles", type=int, default=700,
                   help="core-to-core round trip (TSC cycles) above which the vCPUs count "
                        "as badly placed (default 700; normal is ~250-450)")
    p.add_argument("--hugepages", type=int, default=512,
                   help="2 MB hugepages to have free for the run (default 512)")
    p.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results",
                   help="where to write the JSON and Markdown (default bench/results)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 2.0
    if args.rounds < 1 or args.duration <= 0 or args.retries < 0:
        p.error("--rounds and --duration must be positive, --retries not negative")
    if args.gen_cpu == args.dut_cpu:
        p.error("--gen-cpu and --dut-cpu must differ")
    online = os.sched_getaffinity(0)
    for opt, cpu in (("--gen-cpu", args.gen_cpu), ("--dut-cpu", args.dut_cpu)):
        if cpu not in online:
            p.error(f"{opt} {cpu}: not a CPU this process may use ({sorted(online)})")
    if not 42 <= args.size <= 1514:
        p.error("--size must be 42..1514")
    args.dut = args.dut or ["testpmd"]
    return args


def _raise_on_signal(signum, _frame):
    # SIGTERM/SIGHUP take the same way out as Ctrl-C: the finally blocks
    # kill the processes and give the hugepages back.
    raise KeyboardInterrupt(f"signal {signum}")


def _cpu_busy_fraction(seconds: float = 0.5) -> float:
    """How busy the machine is before we start: someone else's load makes
    every number noisy."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v) - idle, sum(v)
    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return (b1 - b0) / max(t1 - t0, 1)


def run(args: argparse.Namespace) -> int:
    require_root()
    dut_classes = [load_dut_class(spec) for spec in args.dut]
    loadgen = Loadgen(REPO)
    print("building loadgen ...")
    loadgen.build()

    started = datetime.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="vrbench-"))
    procs = ProcessRegistry(workdir)
    prefixes = DpdkPrefixes(f"vrbench{os.getpid()}")
    hugepages = Hugepages(pages=args.hugepages)
    notes: list[str] = []
    try:
        env = DutEnv(cpu=args.dut_cpu, rsize=args.rsize, dst_count=args.dst_count,
                     dst_step=args.dst_step,
                     procs=procs, prefixes=prefixes, workdir=workdir)
        duts: list[Dut] = [cls(env) for cls in dut_classes]
        for d in duts:
            d.check()
        hugepages.setup()
        busy = _cpu_busy_fraction()
        if busy > 0.05:
            msg = (f"the machine was {busy:.0%} busy before the run started (other "
                   "processes): expect noisy numbers and re-runs")
            print("warning: " + msg)
            notes.append(msg)

        gen = GenSettings(cpu=args.gen_cpu, size=args.size, rsize=args.rsize,
                          duration_s=args.duration, dst_count=args.dst_count,
                          dst_step=args.dst_step)
        settings = Settings(gen=gen, dut_cpu=args.dut_cpu,
                            probe_bad_cycles=args.probe_bad_cycles, retries=args.retries)
        runner = TrialRunner(settings, loadgen, procs, prefixes, workdir)
        contenders = [{"name": CEILING, "label": "generator ceiling", "kind": "ceiling"}]
        contenders += [{"name": d.name, "label": d.label, "kind": "dut", "dut": d}
                       for d in duts]

        results: dict[str, list[dict]] = {c["name"]: [] for c in contenders}
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds}")
            for c in contenders:
                if c["kind"] == "ceiling":
                    trial = runner.run(c["label"], runner.ceiling_attempt)
                else:
                    dut = c["dut"]
                    trial = runner.run(c["label"], lambda dut=dut: runner.dut_attempt(dut))
                trial["round"] = rnd + 1
                results[c["name"]].append(trial)

        rows = summarize(results, contenders)
        run_info = _run_info(args, started, hugepages, results, contenders, notes)
        json_path, md_path = write(run_info, rows, args.results_dir, stamp)
        print()
        print(md_path.read_text())
        print(f"wrote {json_path}\n      {md_path}")
        return 0
    finally:
        procs.kill_all()
        prefixes.cleanup()
        hugepages.restore()
        shutil.rmtree(workdir, ignore_errors=True)


def _run_info(args, started, hugepages, results, contenders, notes) -> dict:
    probes = []
    problems = []
    stalled = []
    tsc_hz = None
    for c in contenders:
        for trial in results[c["name"]]:
            tsc_hz = tsc_hz or trial["tsc_hz"]
            kept = trial["attempts"][trial["chosen_attempt"]]["generator"]
            stalled.append((kept["stalled_s"] - kept.get("preempted_s", 0))
                           / max(kept["duration_s"], 1e-9))
            for i, att in enumerate(trial["attempts"]):
                probes += [att["probe_before"]["median_cycles"],
                           att["probe_after"]["median_cycles"]]
                for prob in att["problems"]:
                    problems.append(f"round {trial['round']}, {c['label']}, attempt {i + 1}: "
                                    f"{prob}")
                for note in att["notes"]:
                    notes.append(f"round {trial['round']}, {c['label']}: {note}")
            for fail in trial["failures"]:
                problems.append(f"round {trial['round']}, {c['label']}: failed: "
                                f"{fail.splitlines()[0]}")
    return {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine_info(REPO),
        "tsc_hz": tsc_hz,
        "conditions": {
            "frame_size": args.size,
            "dst_count": args.dst_count,
            "dst_step": args.dst_step,
            "gen_cpu": args.gen_cpu,
            "dut_cpu": args.dut_cpu,
            "rsize": args.rsize,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "retries": args.retries,
            "probe_bad_cycles": args.probe_bad_cycles,
            "hugepages": hugepages.description,
            "memif": "DUT ports role=server (copy); generator ports role=client zero-copy=yes",
        },
        "generator_stalled_fraction": statistics.median(stalled) if stalled else None,
        "probe_summary": {"median": statistics.median(probes), "min": min(probes),
                          "max": max(probes)} if probes else None,
        "problems": problems,
        "notes": notes,
        "results": {c["name"]: results[c["name"]] for c in contenders},
    }


def main() -> int:
    # Also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_on_signal)
    signal.signal(signal.SIGHUP, _raise_on_signal)
    args = parse_args()
    try:
        return run(args)
    except NotImplementedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
