"""The appliance: demo hosts, the dataplane process and its supervision, the
engine that holds the running state, and the gRPC API."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from . import __version__
from .api import ApiServer
from .config.model import RouterConfig
from .core.engine import Engine
from .core.events import Event
from .dataplane.client import DataplaneUnavailable
from .dataplane.messages import NeighState
from .dataplane.process import DataplaneProcess, DataplaneSettings
from .demo import HostLink, create_demo_hosts
from .hoststack import HostStack

log = logging.getLogger("vrouter")

SUPERVISE_PERIOD_S = 0.2
POLL_PERIOD_S = 1.0  # link and neighbour events


def dataplane_settings(cfg: RouterConfig, run_dir: Path, name: str = "vrouter") -> DataplaneSettings:
    d = cfg.dataplane
    return DataplaneSettings(
        socket=run_dir / "dataplane.sock", main_lcore=d.main_lcore, worker_lcores=d.workers,
        hugepages=d.hugepages, memory_mb=d.memory_mb, mbufs=d.mbufs, nexthops=d.nexthops,
        neigh_table=d.arp.table_size, nat_sessions=d.nat_sessions,
        pci=any(not i.device.startswith("net_") for i in cfg.interfaces),
        file_prefix=name, extra_eal=d.extra_eal,
        vrf0_routes=cfg.vrf("default").max_routes, vrf0_tbl8=cfg.vrf("default").num_tbl8)


class Appliance:
    def __init__(self, cfg: RouterConfig, run_dir: Path = Path("/run/vrouter"),
                 name: str = "vrouter", config_path: str | None = None) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.engine = Engine(cfg, config_path=config_path)
        self.process = DataplaneProcess(dataplane_settings(cfg, run_dir, name),
                                        log_path=run_dir / "dataplane.log")
        self.api: ApiServer | None = None
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
            self.links = create_demo_hosts(self.cfg)
            self.engine.attach(self.process.start())
            self.engine.start(self.cfg)
            if self.hoststack is not None:
                self.hoststack.start()
            self.api = ApiServer(self, self.cfg.api)
            self.api.start()
            self.api.set_serving(True)
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.hoststack is not None:
            self.hoststack.stop()
        if self.dp is not None:
            self.dp.close()
        self.engine.detach()
        self.process.stop()
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
        status = self.process.proc.returncode if self.process.proc else None
        log.error("the dataplane exited (status %s); restarting it", status)
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
        log.info("dataplane restarted and the running state replayed")

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
