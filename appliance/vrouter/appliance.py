"""The appliance: demo hosts, the dataplane process and its supervision, the
engine that holds the running state, and the gRPC API.

Lifetimes. The dataplane runs in its own session and is recorded in
<run_dir>/dataplane.json: if the management plane dies (SIGKILL, a crash) the
dataplane goes on forwarding, and the next `vrouter run` with the same
configuration adopts it (reconnects, compares it with the configuration,
changes only what differs; core/adopt.py) instead of starting over. A
dataplane that dies is restarted and the running state replayed into it.
`stop()` (SIGTERM/SIGINT of `vrouter run`) ends both and removes what they
made: demo hosts, control namespaces, sockets, DPDK runtime files.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from . import __version__
from .api import ApiServer
from .config.model import RouterConfig
from .core.adopt import CannotAdopt
from .core.engine import Engine
from .core.events import Event
from .dataplane.client import DataplaneError, DataplaneUnavailable
from .dataplane.messages import VR_PORT_NONE, NeighState
from .dataplane.process import DataplaneProcess, DataplaneSettings
from .demo import HostLink, create_demo_hosts, demo_links
from .hoststack import HostStack

log = logging.getLogger("vrouter")

SUPERVISE_PERIOD_S = 0.05  # how soon a dead dataplane is noticed (a waitpid)
POLL_PERIOD_S = 1.0  # link and neighbour events


def dataplane_settings(cfg: RouterConfig, run_dir: Path, name: str = "vrouter") -> DataplaneSettings:
    d = cfg.dataplane
    return DataplaneSettings(
        socket=run_dir / "dataplane.sock", main_lcore=d.main_lcore, worker_lcores=d.workers,
        hugepages=d.hugepages, memory_mb=d.memory_mb, mbufs=d.mbufs, nexthops=d.nexthops,
        neigh_table=d.arp.table_size, nat_sessions=d.nat_sessions, queue_size=d.queue_size,
        pci=any(not i.device.startswith("net_") for i in cfg.interfaces),
        file_prefix=name, extra_eal=d.extra_eal,
        vrf0_routes=cfg.vrf("default").max_routes, vrf0_tbl8=cfg.vrf("default").num_tbl8)


class Appliance:
    def __init__(self, cfg: RouterConfig, run_dir: Path = Path("/run/vrouter"),
                 name: str = "vrouter", config_path: str | None = None,
                 adopt: bool = True) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.engine = Engine(cfg, config_path=config_path)
        self.process = DataplaneProcess(dataplane_settings(cfg, run_dir, name),
                                        log_path=run_dir / "dataplane.log",
                                        state_path=run_dir / "dataplane.json")
        self.adopt = adopt  # False: a dataplane left running is stopped, not adopted
        self.adopted: dict[str, int] | None = None  # what adopting it changed
        self.api: ApiServer | None = None
        self.metrics = None  # MetricsServer, when cfg.metrics.listen is set
        self.hoststack = HostStack(self.engine, name) if cfg.control_plane else None
        self.links: list[HostLink] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._links_up: dict[str, bool] = {}
        self._neighbors: dict[tuple[int, str], str] = {}

    @property
    def dp(self):
        return self.engine.executor.dp

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            if not (self.adopt and self._adopt()):
                self.process.clear_leftovers()
                self.links = create_demo_hosts(self.cfg)
                self.engine.attach(self.process.start())
                self.engine.start(self.cfg)
                if self.hoststack is not None:
                    self.hoststack.start()
            self.api = ApiServer(self, self.cfg.api)
            self.api.start()
            self.api.set_serving(True)
            if self.cfg.metrics.listen:
                from .metrics import MetricsServer
                self.metrics = MetricsServer(self, self.cfg.metrics)
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def _adopt(self) -> bool:
        """Adopts the dataplane a previous management plane left running, if
        there is one it can talk to; False: start afresh."""
        rec = self.process.recorded()
        if rec is None:
            return False
        missing = [link.name for _, link in demo_links(self.cfg) if not link.exists()]
        if missing:  # its ports on them are dead
            log.warning("demo hosts %s are gone: not adopting the running dataplane (pid %d)",
                        ", ".join(missing), rec.pid)
            return False
        t0 = time.monotonic()
        dp = self.process.adopt()
        if dp is None:
            return False
        self.links = create_demo_hosts(self.cfg, keep=True)
        keep = ((lambda p: p.exception_of != VR_PORT_NONE) if self.hoststack is not None
                else (lambda p: False))
        learned = (self.hoststack.read_learned([v.name for v in self.cfg.vrfs])
                   if self.hoststack is not None else {})
        try:
            done = self.engine.adopt(dp, self.cfg, keep, learned)
        except (CannotAdopt, DataplaneError, DataplaneUnavailable) as e:
            log.warning("the running dataplane (pid %d) cannot be adopted (%s): restarting it "
                        "with the configuration", rec.pid, e)
            dp.close()
            self.engine.detach()
            self.process.stop()
            self.engine.attach(self.process.start())  # the state is built: replayed
            if self.hoststack is not None:
                self.hoststack.start()
            return True
        if self.hoststack is not None:
            self.hoststack.start(adopt=True)
        self.adopted = done
        log.info("adopted the running dataplane (pid %d) in %.2fs; changed in it: %s",
                 rec.pid, time.monotonic() - t0,
                 ", ".join(f"{n} {k}" for k, n in sorted(done.items())) or "nothing")
        self.engine.events.publish(Event("dataplane_up", detail=f"adopted pid {rec.pid}"))
        return True

    def request_stop(self) -> None:
        """From a signal handler: stop() is coming; restart nothing meanwhile."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.hoststack is not None:
            self.hoststack.stop()
        if self.dp is not None:
            self.dp.close()
        self.engine.detach()
        pid = self.process.pid
        status = self.process.stop()
        if pid is not None:
            log.info("dataplane (pid %d) stopped%s", pid,
                     f", exit status {status}" if status is not None else "")
        for link in self.links:
            link.destroy()
        self.links = []

    # ---- supervision ----

    def _supervise(self) -> None:
        next_poll = 0.0
        while not self._stop.wait(SUPERVISE_PERIOD_S):
            if not self.process.alive():
                self._restart_dataplane()
                continue
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_PERIOD_S
                try:
                    self._poll_events()
                except DataplaneUnavailable:
                    pass  # it died: the next round restarts it

    def _restart_dataplane(self) -> None:
        t0 = time.monotonic()
        proc = self.process.proc
        status = proc.poll() if proc is not None else None
        log.error("the dataplane (pid %s) exited (status %s); restarting it", self.process.pid,
                  "unknown: adopted" if proc is None else status)
        self.engine.detach()
        if self.api:
            self.api.set_serving(False)
        self.engine.events.publish(Event("dataplane_down", detail=f"exit status {status}"))
        old = self.dp
        if old is not None:
            old.close()
        self.process.stop()
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.engine.attach(self.process.start())
                break
            except Exception:  # noqa: BLE001 - keep trying; say why
                log.exception("restarting the dataplane failed; retrying in %.1fs", delay)
                self.process.stop()
                self._stop.wait(delay)
                delay = min(delay * 2, 10)
        else:
            return
        self.restarts += 1
        if self.hoststack is not None:
            self.hoststack.dataplane_restarted()
        if self.api:
            self.api.set_serving(True)
        self.engine.events.publish(Event("dataplane_up", detail=f"restart {self.restarts}, "
                                                              "state replayed"))
        log.info("dataplane restarted and the running state replayed in %.2fs",
                 time.monotonic() - t0)

    def _poll_events(self) -> None:
        dp = self.dp
        if dp is None or not self.engine.dataplane_up:
            return
        publish = self.engine.events.publish
        ports = dp.port_list()
        names = {p.port: p.name for p in ports}
        for p in ports:
            was = self._links_up.get(p.name)
            if was is not None and was != p.link_up:
                publish(Event("link_up" if p.link_up else "link_down", interface=p.name))
            self._links_up[p.name] = p.link_up
        now = {}
        for n in dp.neigh_list():
            if n.state in (NeighState.REACHABLE, NeighState.PROBE, NeighState.PERMANENT):
                now[(n.port, str(n.ip))] = n.mac
        for key, mac in now.items():
            if self._neighbors.get(key) != mac:
                publish(Event("neighbor_learned", interface=names.get(key[0], ""), ip=key[1],
                              mac=mac))
        for key, mac in self._neighbors.items():
            if key not in now:
                publish(Event("neighbor_expired", interface=names.get(key[0], ""), ip=key[1],
                              mac=mac))
        self._neighbors = now

    def status_pb(self, pb):
        e = self.engine
        hello = None
        if e.dataplane_up and self.dp is not None:
            try:
                hello = self.dp.hello()
            except DataplaneUnavailable:
                hello = None
        return pb.StatusResponse(
            dataplane_up=e.dataplane_up and hello is not None,
            dataplane_pid=self.process.pid or 0, dataplane_restarts=self.restarts,
            dataplane_down_since=e.down_since or "", workers=hello.n_workers if hello else 0,
            config_version=e.version, version=__version__)
