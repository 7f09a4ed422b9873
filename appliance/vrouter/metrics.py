"""The Prometheus/OpenMetrics endpoint: `metrics: {listen: "127.0.0.1:9469"}`.

Off unless configured. A custom collector reads everything at scrape time,
nothing is cached or polled in between: per-port counters, per-VRF route
counts, NAT, ARP, the workers' cycle counters and the management plane's
own state.

Reading never slows the workers: every dataplane number comes over the
control channel, where the control thread sums the per-worker counter
memory with relaxed loads (each worker writes only its own); no lock, no
message to a worker. A scrape costs one request per port plus a handful.

Names follow the Prometheus conventions: `_total` counters, base units
(bytes, cycles), labels for what varies (`port`, `vrf`, `reason`, `state`,
`worker`). Every drop reason is one value of the `reason` label of
vrouter_port_drops_total, so a new reason in the dataplane shows up with no
change here.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from . import __version__
from .config.model import MetricsConfig
from .dataplane.client import DataplaneError, DataplaneUnavailable, ProtocolError
from .dataplane.messages import NeighState
from .services.stats import interface_counters
from .services.vrfs import route_counts

log = logging.getLogger("vrouter.metrics")

LOCK_WAIT_S = 2.0  # a scrape during a million-route commit skips what needs the state

# What each non-drop per-port counter counts (vr counters.h); anything the
# dataplane adds later is exported too, with a generic line.
PORT_COUNTER_HELP = {
    "rx_packets": "Packets received on the port.",
    "rx_bytes": "Bytes received on the port.",
    "tx_packets": "Packets sent on the port.",
    "tx_bytes": "Bytes sent on the port.",
    "ip_forwarded": "IPv4 packets received on the port and forwarded.",
    "ip_local": "IPv4 packets received on the port addressed to the router.",
    "ip_options": "IPv4 packets with options forwarded.",
    "ip_fragments_out": "Fragments sent (packets over the egress MTU, DF clear).",
    "icmp_echo_replies": "ICMP echo replies the router sent.",
    "icmp_errors_sent": "ICMP errors the router sent (unreachable, time exceeded, ...).",
    "icmp_errors_ratelimited": "ICMP errors not sent because of the rate limit.",
    "arp_requests_in": "ARP requests received.",
    "arp_replies_in": "ARP replies received.",
    "arp_requests_out": "ARP requests sent.",
    "arp_replies_out": "ARP replies sent.",
    "arp_learned": "Neighbours learned from ARP.",
    "arp_held": "Packets queued while their next hop was being resolved.",
    "arp_released": "Queued packets sent once their next hop resolved.",
    "punted": "Packets handed to the control path.",
    "punt_delivered": "Punted packets delivered to the control namespace.",
    "injected": "Packets sent from the control namespace.",
    "nat_sessions_created": "NAT sessions created by packets received on the port.",
    "nat_translated": "Packets NAT translated.",
    "nat_icmp_errors_translated": "ICMP errors translated through their NAT session.",
    "nat_reassembled": "Packets reassembled from fragments for NAT.",
    "nat_handoffs": "Packets handed to the worker owning their NAT flow.",
    # the device's own counters (rte_eth_stats): losses before the dataplane
    "rx_missed": "Frames the device dropped because its rx queue was full (workers behind).",
    "rx_errors": "Erroneous frames the device received.",
    "tx_errors": "Frames the device failed to send.",
    "rx_nombuf": "Frames the device could not receive for want of a packet buffer.",
}

# Router-wide sums of per-port counters: (metric, counter, help)
NAT_TOTALS = (
    ("vrouter_nat_sessions_created", "nat_sessions_created", "NAT sessions created."),
    ("vrouter_nat_translated_packets", "nat_translated", "Packets NAT translated."),
    ("vrouter_nat_icmp_errors_translated", "nat_icmp_errors_translated",
     "ICMP errors translated through their NAT session."),
    ("vrouter_nat_reassembled_packets", "nat_reassembled",
     "Packets reassembled from fragments for NAT."),
    ("vrouter_nat_handoffs", "nat_handoffs", "Packets handed to the worker owning the flow."),
)
ARP_TOTALS = (
    ("vrouter_arp_requests_sent", "arp_requests_out", "ARP requests sent, all ports."),
    ("vrouter_arp_replies_sent", "arp_replies_out", "ARP replies sent, all ports."),
    ("vrouter_arp_learned", "arp_learned", "Neighbours learned from ARP, all ports."),
)

NEIGH_STATES = {s: s.name.lower() for s in NeighState}


def _port_metric(counter: str) -> str:
    return f"vrouter_port_{counter}"


class VrouterCollector(Collector):
    """Reads the appliance at each scrape."""

    def __init__(self, app) -> None:
        self.app = app

    def collect(self) -> Iterator:
        t0 = time.monotonic()
        app, e = self.app, self.app.engine
        yield InfoMetricFamily("vrouter", "The vrouter management plane.",
                               value={"version": __version__})
        dp = e.executor.dp
        up = bool(e.dataplane_up and dp is not None)
        g = GaugeMetricFamily("vrouter_dataplane_up",
                              "1 while the dataplane is running and programmed, else 0.")
        g.add_metric([], 1 if up else 0)
        yield g
        c = CounterMetricFamily("vrouter_dataplane_restarts",
                                "Times the management plane restarted a dataplane that died.")
        c.add_metric([], app.restarts)
        yield c
        g = GaugeMetricFamily("vrouter_config_version",
                              "The running configuration's version (vrouter config history).")
        g.add_metric([], e.version)
        yield g

        view = self._state_view()
        if up:
            try:
                yield from self._dataplane(dp, view)
            except (DataplaneUnavailable, DataplaneError, ProtocolError) as ex:
                log.info("scrape: dataplane metrics skipped: %s", ex)
        if view is not None:
            rib = GaugeMetricFamily("vrouter_vrf_rib_routes",
                                    "Prefixes in the VRF's RIB (all protocols).", labels=["vrf"])
            fib = GaugeMetricFamily("vrouter_vrf_fib_routes",
                                    "Routes in the VRF's FIB: the RIB's selected routes and the "
                                    "interface (connected, local) routes.", labels=["vrf"])
            for name in sorted(view["routes"]):
                rib.add_metric([name], view["routes"][name][0])
                fib.add_metric([name], view["routes"][name][1])
            yield rib
            yield fib
        g = GaugeMetricFamily("vrouter_metrics_collect_seconds",
                              "Time this scrape spent reading the router.")
        g.add_metric([], time.monotonic() - t0)
        yield g

    def _state_view(self) -> dict | None:
        """A consistent copy of the little the scrape needs from the state."""
        e = self.app.engine
        if not e.lock.acquire(timeout=LOCK_WAIT_S):
            log.info("scrape: the state is busy; port, VRF and NAT rule metrics skipped")
            return None
        try:
            st = e.state
            return {
                "ports": dict(e.executor.ports),
                "iface_vrf": {n: i.vrf for n, i in st.interfaces.items()},
                "vrf_ids": {v.id: v.name for v in st.vrfs.values()},
                "routes": {v.name: route_counts(st, v.name) for v in st.vrfs.values()},
                "nat_rules": {i: r.kind for r, i in st.nat.items()},
            }
        finally:
            e.lock.release()

    # ---- what comes from the dataplane ----

    def _dataplane(self, dp, view: dict | None) -> Iterator:
        hello = dp.hello()
        g = GaugeMetricFamily("vrouter_dataplane_workers", "Dataplane worker lcores.")
        g.add_metric([], hello.n_workers)
        yield g
        yield from self._workers(dp)
        if view is not None:
            stats = {name: interface_counters(dp, pid)
                     for name, pid in sorted(view["ports"].items())}
            yield from self._ports(dp, stats, view)
            yield from self._vrfs(dp, stats, view)
        else:
            stats = {}
        yield from self._nat(dp, stats, view)
        yield from self._arp(dp, stats, view, hello.neigh_table_size)

    def _workers(self, dp) -> Iterator:
        tsc_hz, workers = dp.worker_stats()
        lcores = self.app.cfg.dataplane.workers
        labels = ["worker", "lcore"]

        def lbl(w):
            return [str(w.worker), str(lcores[w.worker]) if w.worker < len(lcores) else ""]

        g = GaugeMetricFamily("vrouter_dataplane_tsc_hz", "TSC cycles per second.")
        g.add_metric([], tsc_hz)
        yield g
        for name, attr, help in (
            ("vrouter_worker_busy_cycles", "busy_tsc",
             "TSC cycles the worker spent in loop iterations that had packets."),
            ("vrouter_worker_packets", "packets", "Packets the worker received or injected."),
            ("vrouter_worker_loops", "loops", "Poll loop iterations."),
            ("vrouter_worker_idle_loops", "idle_loops", "Poll loop iterations with no packet."),
        ):
            c = CounterMetricFamily(name, help, labels=labels)
            for w in workers:
                c.add_metric(lbl(w), getattr(w, attr))
            yield c
        g = GaugeMetricFamily(
            "vrouter_worker_cycles_per_packet",
            "Busy cycles per packet since the worker started (now: rate of "
            "vrouter_worker_busy_cycles_total / rate of vrouter_worker_packets_total).",
            labels=labels)
        for w in workers:
            g.add_metric(lbl(w), w.busy_tsc / w.packets if w.packets else 0.0)
        yield g

    def _ports(self, dp, stats: dict[str, dict[str, int]], view: dict) -> Iterator:
        names = list(next(iter(stats.values()), {}))
        infos = {p.port: p for p in dp.port_list()}
        info = InfoMetricFamily("vrouter_port", "Interfaces of the router.",
                                labels=["port", "vrf", "driver"])
        link = GaugeMetricFamily("vrouter_port_link_up", "1 when the port's link is up.",
                                 labels=["port"])
        admin = GaugeMetricFamily("vrouter_port_admin_up", "1 when the port is set up.",
                                  labels=["port"])
        for name, pid in sorted(view["ports"].items()):
            p = infos.get(pid)
            info.add_metric([name, view["iface_vrf"].get(name, ""), p.driver if p else ""], {})
            if p is not None:
                link.add_metric([name], int(p.link_up))
                admin.add_metric([name], int(p.admin_up))
        yield info
        yield link
        yield admin
        for counter in names:
            if counter.startswith("drop_"):
                continue
            c = CounterMetricFamily(
                _port_metric(counter),
                PORT_COUNTER_HELP.get(counter, f"Dataplane counter {counter} of the port."),
                labels=["port"])
            for name, values in stats.items():
                c.add_metric([name], values[counter])
            yield c
        c = CounterMetricFamily(
            "vrouter_port_drops",
            "Packets the port dropped, by reason (the dataplane's drop_<reason> counters; "
            "every drop is counted).", labels=["port", "reason"])
        for name, values in stats.items():
            for counter in names:
                if counter.startswith("drop_"):
                    c.add_metric([name, counter[len("drop_"):]], values[counter])
        yield c

    def _vrfs(self, dp, stats: dict[str, dict[str, int]], view: dict) -> Iterator:
        cap = GaugeMetricFamily("vrouter_vrf_fib_max_routes", "The VRF's FIB capacity.",
                                labels=["vrf"])
        for v in sorted(dp.vrf_list(), key=lambda v: v.vrf):
            name = view["vrf_ids"].get(v.vrf)
            if name is not None:  # else a table being removed
                cap.add_metric([name], v.max_routes)
        yield cap
        fwd: dict[str, int] = defaultdict(int)
        drops: dict[str, int] = defaultdict(int)
        for vrf in view["vrf_ids"].values():
            fwd[vrf], drops[vrf] = 0, 0
        for name, values in stats.items():
            vrf = view["iface_vrf"].get(name)
            if vrf is None:
                continue
            fwd[vrf] += values.get("ip_forwarded", 0)
            drops[vrf] += sum(v for k, v in values.items() if k.startswith("drop_"))
        c = CounterMetricFamily("vrouter_vrf_forwarded_packets",
                                "IPv4 packets forwarded, counted on the VRF's ingress ports.",
                                labels=["vrf"])
        for vrf in sorted(fwd):
            c.add_metric([vrf], fwd[vrf])
        yield c
        c = CounterMetricFamily("vrouter_vrf_dropped_packets",
                                "Packets the dataplane dropped on the VRF's ports, every reason.",
                                labels=["vrf"])
        for vrf in sorted(drops):
            c.add_metric([vrf], drops[vrf])
        yield c

    @staticmethod
    def _sum(stats: dict[str, dict[str, int]], counter: str) -> int:
        return sum(v.get(counter, 0) for v in stats.values())

    def _nat(self, dp, stats: dict[str, dict[str, int]], view: dict | None) -> Iterator:
        p = dp.nat_params_get()
        for name, key, help in (
            ("vrouter_nat_sessions", "sessions", "NAT sessions in use."),
            ("vrouter_nat_mappings", "mappings",
             "NAT endpoint mappings in use (an inside address:port and its outside one)."),
            ("vrouter_nat_sessions_max", "max_sessions",
             "NAT session table capacity, all workers together."),
        ):
            g = GaugeMetricFamily(name, help)
            g.add_metric([], p[key])
            yield g
        if view is None:
            return
        for name, counter, help in NAT_TOTALS:
            c = CounterMetricFamily(name, help)
            c.add_metric([], self._sum(stats, counter))
            yield c
        reasons = sorted({k for v in stats.values() for k in v if k.startswith("drop_nat_")})
        c = CounterMetricFamily("vrouter_nat_drops", "Packets NAT dropped, by reason.",
                                labels=["reason"])
        for k in reasons:
            c.add_metric([k[len("drop_nat_"):]], self._sum(stats, k))
        yield c
        c = CounterMetricFamily("vrouter_nat_rule_sessions_created",
                                "NAT sessions each rule created.", labels=["rule", "kind"])
        for r in sorted(dp.nat_rule_list(), key=lambda r: r.id):
            c.add_metric([str(r.id), view["nat_rules"].get(r.id, "")], r.sessions)
        yield c

    def _arp(self, dp, stats: dict[str, dict[str, int]], view: dict | None,
             table_size: int) -> Iterator:
        counts = dict.fromkeys(NEIGH_STATES.values(), 0)
        for n in dp.neigh_list():
            state = NEIGH_STATES.get(n.state, str(int(n.state)))
            counts[state] = counts.get(state, 0) + 1
        g = GaugeMetricFamily("vrouter_arp_entries", "Neighbour (ARP) table entries, by state.",
                              labels=["state"])
        for state in sorted(counts):
            g.add_metric([state], counts[state])
        yield g
        g = GaugeMetricFamily("vrouter_arp_table_size", "Neighbour table capacity.")
        g.add_metric([], table_size)
        yield g
        if view is None:
            return
        for name, counter, help in ARP_TOTALS:
            c = CounterMetricFamily(name, help)
            c.add_metric([], self._sum(stats, counter))
            yield c
        reasons = sorted({k for v in stats.values() for k in v if k.startswith("drop_arp_")})
        c = CounterMetricFamily("vrouter_arp_drops",
                                "Packets the ARP layer dropped (bad or unsolicited ARP, full "
                                "table or hold queue, failed resolution), all ports, by reason.",
                                labels=["reason"])
        for k in reasons:
            c.add_metric([k[len("drop_arp_"):]], self._sum(stats, k))
        yield c


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9469' / '[::1]:9469' -> (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class MetricsServer:
    """The HTTP endpoint (any path; /metrics by convention), in its own thread.
    Prometheus' text format, or OpenMetrics when the scraper asks for it."""

    def __init__(self, app, cfg: MetricsConfig) -> None:
        assert cfg.listen
        self.registry = CollectorRegistry()
        self.registry.register(VrouterCollector(app))
        host, port = split_listen(cfg.listen)
        try:
            self.httpd, self.thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as e:
            raise OSError(e.errno, f"metrics.listen {cfg.listen}: {e.strerror}") from None
        self.host = host
        self.port: int = self.httpd.server_port  # the one bound (listen may ask for 0)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
