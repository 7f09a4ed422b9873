"""The vrouter dataplane as a device under test.

########################################################################
#  STUB: not implemented yet, and not part of the default run.         #
#  `bench/forwarding.py --dut vrouter` fails with the message below    #
#  until start() and stop() are written.                               #
########################################################################

What the adapter has to do (see the Dut docstring in duts.py):
  - start dataplane/build/vrouter-dataplane with its forwarding worker on
    env.cpu and two memif server ports on port_a_socket / port_b_socket
    (memif_vdev(0, "server", ...), memif_vdev(1, "server", ...), rsize
    env.rsize, a prefix from env.prefixes.new("vrouter"));
  - configure it through its control socket so that the flow below is
    routed out of port B: an address on each port, a route covering
    flow.dst_ip .. dst_ip + dst_count - 1 via a neighbour on port B with a
    static ARP entry (the generator does not answer ARP);
  - return only once both ports are started (a memif client that connects
    earlier is refused and never retries);
  - return DutContext(pids=[the dataplane pid]).
"""

from __future__ import annotations

from pathlib import Path

from .duts import Dut, DutContext
from .loadgen import Flow


class VrouterDut(Dut):
    name = "vrouter"
    label = "vrouter dataplane"

    @property
    def flow(self) -> Flow:
        # Port A's MAC and a routed prefix, once the adapter configures them.
        return Flow(dst_count=self.env.dst_count)

    def check(self) -> None:
        # Delete this once start() and stop() are written.
        self.start(Path("/nonexistent/a.sock"), Path("/nonexistent/b.sock"))

    def start(self, port_a_socket: Path, port_b_socket: Path) -> DutContext:
        raise NotImplementedError(
            "the vrouter DUT adapter is a stub: implement VrouterDut.start()/stop() in "
            "bench/fwdbench/dut_vrouter.py (what it must do is in that file's docstring)")

    def stop(self) -> None:
        pass
