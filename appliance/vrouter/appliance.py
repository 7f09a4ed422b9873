"""The appliance: demo hosts, the dataplane process, and its programming."""

from __future__ import annotations

import logging
from pathlib import Path

from .config.model import RouterConfig
from .dataplane.client import DataplaneClient
from .dataplane.process import DataplaneProcess, DataplaneSettings
from .demo import HostLink, create_demo_hosts
from .programmer import Programmer

log = logging.getLogger("vrouter")


def dataplane_settings(cfg: RouterConfig, run_dir: Path, name: str = "vrouter") -> DataplaneSettings:
    d = cfg.dataplane
    return DataplaneSettings(
        socket=run_dir / "dataplane.sock", main_lcore=d.main_lcore, worker_lcores=d.workers,
        hugepages=d.hugepages, memory_mb=d.memory_mb, mbufs=d.mbufs, nexthops=d.nexthops,
        neigh_table=d.arp.table_size,
        pci=any(not i.device.startswith("net_") for i in cfg.interfaces),
        file_prefix=name, extra_eal=d.extra_eal,
        vrf0_routes=cfg.vrf("default").max_routes, vrf0_tbl8=cfg.vrf("default").num_tbl8)


class Appliance:
    def __init__(self, cfg: RouterConfig, run_dir: Path = Path("/run/vrouter"),
                 name: str = "vrouter") -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.process = DataplaneProcess(dataplane_settings(cfg, run_dir, name),
                                        log_path=run_dir / "dataplane.log")
        self.dp: DataplaneClient | None = None
        self.links: list[HostLink] = []
        self.programmer: Programmer | None = None

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.links = create_demo_hosts(self.cfg)
            self.dp = self.process.start()
            self.programmer = Programmer(self.dp, self.cfg)
            self.programmer.apply()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.dp is not None:
            self.dp.close()
            self.dp = None
        self.process.stop()
        for link in self.links:
            link.destroy()
        self.links = []
