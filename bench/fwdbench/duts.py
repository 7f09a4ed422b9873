"""Devices under test, and the interface a new one implements.

A DUT is a forwarder with two memif *server* ports on one CPU. The harness
gives it two socket paths and later connects the generator's two client
ports to them: port A (the generator transmits into it) and port B (the
generator counts what comes out of it). The DUT must forward A -> B.

To plug one in, subclass Dut, implement start() and stop() (counters() is
optional), and either register it in DUTS below or pass
"--dut package.module:ClassName" to bench/forwarding.py. Example:

    class MyDut(Dut):
        name = "mydut"
        label = "my forwarder"

        def start(self, port_a_socket, port_b_socket):
            argv = ["my-forwarder", *eal_args(str(self.env.cpu),
                                              self.env.prefixes.new("mydut"), False),
                    memif_vdev(0, "server", port_a_socket, self.env.rsize),
                    memif_vdev(1, "server", port_b_socket, self.env.rsize)]
            self.proc = self.env.procs.start("mydut", argv)
            ...wait until both ports are started (see TestpmdDut)...
            return DutContext(pids=[self.proc.pid])

        def stop(self):
            self.proc.kill()
"""

from __future__ import annotations

import abc
import importlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .loadgen import Flow, eal_args, memif_vdev
from .procs import Proc, ProcessRegistry
from .system import BenchError, DpdkPrefixes


@dataclass
class DutEnv:
    """What the harness gives every DUT."""

    cpu: int                      # the one CPU the DUT's forwarding core must use
    rsize: int                    # memif ring size (log2) to configure on its ports
    dst_count: int                # --dst-count: destinations the generator cycles through
    dst_step: int                 # --dst-step: addresses between them
    procs: ProcessRegistry        # start processes through this: they get killed on exit
    prefixes: DpdkPrefixes        # a fresh --file-prefix per DPDK process
    workdir: Path                 # scratch space, removed after the run


@dataclass
class DutContext:
    """What start() returns. pids: processes whose threads the harness
    watches for CPU time taken by other tasks; info: anything worth
    keeping in the JSON result (command line, versions...)."""

    pids: list[int] = field(default_factory=list)
    info: dict = field(default_factory=dict)


class Dut(abc.ABC):
    #: short id used on the command line and in the results
    name: str = "dut"
    #: how the result tables name it
    label: str = "device under test"

    def __init__(self, env: DutEnv):
        self.env = env

    @property
    def flow(self) -> Flow:
        """The traffic the DUT expects (MACs, addresses); the default suits
        anything that does not look at headers. A router must route
        flow.dst_ip .. flow.dst_ip + env.dst_count - 1 out of port B."""
        return Flow(dst_count=self.env.dst_count, dst_step=self.env.dst_step)

    def check(self) -> None:
        """Raise (BenchError, NotImplementedError) if this DUT cannot run
        here, e.g. a missing binary. Called once before any trial, so a run
        fails in seconds rather than after the first round."""

    @abc.abstractmethod
    def start(self, port_a_socket: Path, port_b_socket: Path) -> DutContext:
        """Start forwarding A -> B with memif server ports listening on the
        two sockets (copy mode, rsize=env.rsize), forwarding core pinned to
        env.cpu. Return only when both ports are started: a memif client
        that connects earlier is refused and does not retry."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the DUT and wait for it to exit. Called while the generator
        is still connected but idle; must not raise if start() failed half
        way."""

    #: set by stop() when the DUT did not exit cleanly; kept in the results
    teardown_problem: str | None = None

    def counters(self) -> dict | None:
        """Optional: the DUT's own counters after the trial (called before
        stop()), stored with the result."""
        return None


class TestpmdDut(Dut):
    """dpdk-testpmd --forward-mode=io: receive a burst, send it unchanged out
    of the other port. The floor of what a DPDK forwarder costs."""

    name = "testpmd"
    label = "testpmd io"

    def __init__(self, env: DutEnv, binary: str = "dpdk-testpmd"):
        super().__init__(env)
        self.binary = binary
        self.proc: Proc | None = None

    def check(self) -> None:
        if shutil.which(self.binary) is None:
            raise BenchError(f"{self.binary} not found (Debian: apt install dpdk-dev)")
        if shutil.which("stdbuf") is None:
            raise BenchError("stdbuf not found (coreutils)")

    def start(self, port_a_socket: Path, port_b_socket: Path) -> DutContext:
        binary = shutil.which(self.binary)
        cpu = self.env.cpu
        argv = [
            # testpmd prints "Press enter to exit" once forwarding runs, but
            # its stdout is block-buffered into a file: line-buffer it.
            "stdbuf", "-oL", binary,
            # Main lcore 0 only waits on stdin; forwarding lcore 1 polls.
            # Both live on the DUT's CPU so the generator's CPU stays free.
            "--lcores", f"0@{cpu},1@{cpu}", "--main-lcore", "0",
            "--file-prefix", self.env.prefixes.new("testpmd"),
            "--in-memory", "--no-pci", "--no-telemetry",
            memif_vdev(0, "server", port_a_socket, self.env.rsize),
            memif_vdev(1, "server", port_b_socket, self.env.rsize),
            "--",
            "--forward-mode=io", "--auto-start", "--nb-cores=1",
            # It would wait up to 9 s for links that only come up once the
            # generator connects, which it may only do after we return.
            "--disable-link-check",
            # The default pool (155k mbufs, 340 MB) is far more than two
            # memif rings need.
            "--total-num-mbufs=16384",
        ]
        self.proc = self.env.procs.start("testpmd", argv, stdin_pipe=True)
        if not self.proc.wait_for_text("Press enter to exit", timeout=30):
            tail = self.proc.stderr_tail() or self.proc.stdout_text()[-2000:]
            raise BenchError(f"testpmd did not start forwarding:\n{tail}")
        return DutContext(pids=[self.proc.pid], info={"argv": argv})

    def stop(self) -> None:
        if self.proc is None:
            return
        # Enter makes testpmd stop forwarding, close its ports and exit
        # cleanly; it prints its statistics on the way out.
        self.proc.write_stdin("\n")
        self.proc.close_stdin()
        status = self.proc.wait(15)
        if status is None:
            self.teardown_problem = "testpmd did not exit within 15 s of Enter; killed"
        elif status < 0:
            self.teardown_problem = f"testpmd died of signal {-status} while exiting"
        else:
            self.teardown_problem = None
        self.proc.kill()  # closes the log files (and kills it if still there)
        self.proc = None

    def counters(self) -> dict | None:
        # testpmd's per-port counters on memif server ports are wrong in
        # DPDK 22.11 (rx reads 0, everything counts as tx): the generator
        # counts instead.
        return None


def _vrouter_dut() -> type[Dut]:
    from .dut_vrouter import VrouterDut
    return VrouterDut


def _vrouter_1m_dut() -> type[Dut]:
    from .dut_vrouter import VrouterFullTableDut
    return VrouterFullTableDut


#: built-in DUTs by --dut name; loaders keep optional ones from importing
#: anything until asked for.
DUTS = {
    "testpmd": lambda: TestpmdDut,
    "vrouter": _vrouter_dut,
    "vrouter-1m": _vrouter_1m_dut,
}


def load_dut_class(spec: str) -> type[Dut]:
    """A --dut value: a name from DUTS, or "package.module:ClassName"."""
    if spec in DUTS:
        return DUTS[spec]()
    if ":" not in spec:
        raise BenchError(f"unknown DUT '{spec}': use one of {', '.join(DUTS)} "
                         "or module:Class")
    module_name, class_name = spec.split(":", 1)
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise BenchError(f"cannot load DUT {spec}: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Dut)):
        raise BenchError(f"{spec} is not a subclass of fwdbench.duts.Dut")
    return cls
