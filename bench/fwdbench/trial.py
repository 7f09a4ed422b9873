"""One measurement ("trial") of one contender, with the checks that tell a
clean trial from one the machine disturbed, and the re-runs.

A trial is disturbed when:
  - the core-to-core probe before or after it shows the vCPUs far apart
    (the host moved one; memif throughput drops ~2.5x while it lasts);
  - the generator lost its CPU to other tasks or the host for more than 1%
    of the trial (it timestamps every loop and adds up the gaps over 1 ms;
    shorter ones are interrupts and VM exits, ~1-2% on a KVM guest, always
    there and not counted);
  - the DUT's threads waited for their CPU for more than 1% of the trial
    (another task in this VM ran there: schedstat run-queue wait);
  - the forwarded rate of some 100 ms interval fell below 80% of the
    trial's median interval (the host took a vCPU away for a while: the
    guest cannot see that, but the rate can).
A disturbed trial is run again (--retries times); if no attempt is clean
the least disturbed one is kept, flagged.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .duts import Dut, DutContext
from .loadgen import Flow, GenSettings, Loadgen, memif_vdev
from .procs import ProcessRegistry, runqueue_wait_ns, wait_for_socket
from .system import BenchError, DpdkPrefixes

#: interval rates below this fraction of the median mark a dip
DIP_RATIO = 0.8
#: CPU taken from the generator or the DUT beyond this fraction of the trial
BUSY_FRACTION = 0.01


@dataclass
class Settings:
    gen: GenSettings
    dut_cpu: int
    probe_bad_cycles: int
    retries: int


@dataclass
class Attempt:
    gen: dict                                   # vrouter-loadgen's JSON
    probe_before: dict
    probe_after: dict
    dut_runqueue_wait_s: float | None = None
    dut_counters: dict | None = None
    dut_info: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mpps(self) -> float:
        return self.gen["rx_mpps"]

    def interval_mpps(self) -> list[float]:
        """Per-interval forwarded rates, without the first (ports warming
        up) and the last (a partial interval)."""
        rates = self.gen.get("samples", {}).get("rx_mpps", [])
        return rates[1:-1] if len(rates) > 3 else rates

    def disturbance(self) -> float:
        """How far from clean, for choosing among disturbed attempts."""
        rates = self.interval_mpps()
        dip = 0.0
        if rates and statistics.median(rates) > 0:
            dip = 1 - min(rates) / statistics.median(rates)
        dur = max(self.gen["duration_s"], 1e-9)
        return (dip + self.gen.get("preempted_s", 0) / dur
                + (self.dut_runqueue_wait_s or 0) / dur)

    def to_json(self) -> dict:
        return {
            "rx_mpps": self.mpps,
            "generator": self.gen,
            "probe_before": self.probe_before,
            "probe_after": self.probe_after,
            "dut_runqueue_wait_s": self.dut_runqueue_wait_s,
            "dut_counters": self.dut_counters,
            "dut_info": self.dut_info,
            "problems": self.problems,
            "notes": self.notes,
        }


class TrialRunner:
    def __init__(self, settings: Settings, loadgen: Loadgen, procs: ProcessRegistry,
                 prefixes: DpdkPrefixes, workdir: Path):
        self.s = settings
        self.loadgen = loadgen
        self.procs = procs
        self.prefixes = prefixes
        self.workdir = workdir
        self.count = 0

    # -- one attempt ------------------------------------------------------

    def _sockdir(self) -> Path:
        self.count += 1
        d = self.workdir / f"t{self.count}"
        d.mkdir()
        return d

    def _probe(self) -> dict:
        return self.loadgen.probe((self.s.gen.cpu, self.s.dut_cpu))

    def _gen_timeout(self) -> float:
        # EAL start, link wait (10 s at most), the run, the drain.
        return self.s.gen.duration_s + 30

    def ceiling_attempt(self) -> Attempt:
        """The generator's own limit: its two ports joined by one memif
        link inside the process, nothing else involved. See
        forwarding.py for why this is the ceiling."""
        d = self._sockdir()
        sock = d / "loop.sock"
        # The server has to be probed first: memif keys sockets by path and
        # the first port on a path decides whether it listens. Port 0 is
        # that server (receives), port 1 the zero-copy client (sends).
        vdevs = [memif_vdev(0, "server", sock, self.s.gen.rsize),
                 memif_vdev(1, "client", sock, self.s.gen.rsize, zero_copy=True)]
        before = self._probe()
        flow = Flow(dst_count=self.s.gen.dst_count, dst_step=self.s.gen.dst_step)
        argv = self.loadgen.argv(self.s.gen, self.prefixes.new("ceiling"), vdevs, flow,
                                 extra=["--tx-port", "1", "--rx-port", "0"])
        proc = self.loadgen.start(self.procs, f"ceiling{self.count}", argv, hold=False)
        try:
            gen = self.loadgen.wait_result(proc, self._gen_timeout())
            proc.wait(10)
        finally:
            proc.kill()
        return Attempt(gen=gen, probe_before=before, probe_after=self._probe(),
                       dut_info={"loadgen_argv": argv})

    def dut_attempt(self, dut: Dut) -> Attempt:
        d = self._sockdir()
        a_sock, b_sock = d / "a.sock", d / "b.sock"
        before = self._probe()
        gen_proc = None
        ctx: DutContext | None = None
        try:
            ctx = dut.start(a_sock, b_sock)
            for sock in (a_sock, b_sock):
                wait_for_socket(sock, timeout=10)
            wait0 = runqueue_wait_ns(ctx.pids)
            vdevs = [memif_vdev(0, "client", a_sock, self.s.gen.rsize, zero_copy=True),
                     memif_vdev(1, "client", b_sock, self.s.gen.rsize, zero_copy=True)]
            argv = self.loadgen.argv(self.s.gen, self.prefixes.new("gen"), vdevs, dut.flow,
                                     hold=True)
            gen_proc = self.loadgen.start(self.procs, f"gen{self.count}", argv, hold=True)
            gen = self.loadgen.wait_result(gen_proc, self._gen_timeout())
            wait1 = runqueue_wait_ns(ctx.pids)
            counters = dut.counters()
        finally:
            # DUT first, generator idle but still connected: memif unmaps
            # shared memory on disconnect, and the side still polling
            # would crash.
            try:
                dut.stop()
            finally:
                if gen_proc is not None:
                    gen_proc.close_stdin()
                    if gen_proc.wait(10) is None:
                        gen_proc.kill()
                    gen_proc.kill()
        att = Attempt(gen=gen, probe_before=before, probe_after=self._probe(),
                      dut_counters=counters,
                      dut_info={**ctx.info, "loadgen_argv": argv})
        if wait0 is not None and wait1 is not None:
            att.dut_runqueue_wait_s = (wait1 - wait0) / 1e9
        if dut.teardown_problem:
            att.notes.append(dut.teardown_problem)
        return att

    # -- judging and re-running -------------------------------------------

    def assess(self, att: Attempt) -> None:
        dur = att.gen["duration_s"]
        for when, p in (("before", att.probe_before), ("after", att.probe_after)):
            if p["median_cycles"] > self.s.probe_bad_cycles:
                att.problems.append(
                    f"vCPUs far apart {when} the trial (core-to-core round trip "
                    f"{p['median_cycles']} cycles > {self.s.probe_bad_cycles})")
        preempted = att.gen.get("preempted_s", 0.0)
        if preempted > BUSY_FRACTION * dur:
            att.problems.append(f"generator lost its CPU for {preempted:.3f} s "
                                f"({att.gen.get('preemptions', '?')} times > 1 ms)")
        if att.dut_runqueue_wait_s is not None and att.dut_runqueue_wait_s > BUSY_FRACTION * dur:
            att.problems.append(f"DUT waited {att.dut_runqueue_wait_s:.3f} s for its CPU "
                                "(other tasks on it)")
        rates = att.interval_mpps()
        if len(rates) >= 3:
            med = statistics.median(rates)
            low = min(rates)
            if med > 0 and low < DIP_RATIO * med:
                att.problems.append(f"rate dipped to {low:.1f} Mpps in a 100 ms interval "
                                    f"(median {med:.1f}): a vCPU was taken away")
        if att.gen["rx_packets"] == 0:
            att.problems.append("nothing forwarded")

    def run(self, label: str, attempt_fn) -> dict:
        attempts: list[Attempt] = []
        failures: list[str] = []
        for i in range(1 + self.s.retries):
            t0 = time.monotonic()
            try:
                att = attempt_fn()
            except NotImplementedError:
                raise
            except BenchError as e:
                # A process that failed to start or crashed: worth one
                # more go, like a disturbed trial.
                failures.append(str(e))
                print(f"    {label}: attempt {i + 1} failed: {str(e).splitlines()[0]}")
                self.prefixes.cleanup()
                continue
            self.prefixes.cleanup()
            self.assess(att)
            attempts.append(att)
            status = "clean" if not att.problems else "; ".join(att.problems)
            print(f"    {label}: {att.mpps:7.2f} Mpps  ({time.monotonic() - t0:.1f} s) {status}")
            if not att.problems:
                break
        if not attempts:
            raise BenchError(f"{label}: every attempt failed:\n" + "\n".join(failures))
        clean = [a for a in attempts if not a.problems]
        chosen = clean[0] if clean else min(attempts, key=Attempt.disturbance)
        return {
            "rx_mpps": chosen.mpps,
            "tsc_hz": chosen.gen["tsc_hz"],
            "clean": not chosen.problems,
            "chosen_attempt": attempts.index(chosen),
            "attempts": [a.to_json() for a in attempts],
            "failures": failures,
        }
