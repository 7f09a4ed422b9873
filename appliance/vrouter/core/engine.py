"""Transactions over the running state, the candidate configuration, the
history of committed versions, and replay onto a restarted dataplane.

Every change to the router goes through `transaction()`: the state checks
and applies each change, the executor programs the dataplane; if anything is
refused, the dataplane and the state are both put back as they were.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from ..config.dump import diff, save_atomic, to_yaml
from ..config.loader import ConfigError, parse
from ..config.model import DataplaneConfig, RouterConfig, Vrf
from .state import params_fields
from ..dataplane.client import DataplaneClient
from . import changes as ch
from .errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from .events import Event, EventBus, now_rfc3339
from .ops import ROUTE_OPS, Executor, RouteBulkOp, RouteOp
from .state import RouterState

log = logging.getLogger("vrouter.engine")

MAX_ROUTE_EVENTS = 1000  # a bigger change is announced as one summary event


@dataclass(frozen=True)
class Version:
    number: int
    timestamp: str
    comment: str
    changes: tuple[ch.Change, ...]


class Engine:
    def __init__(self, base: RouterConfig, events: EventBus | None = None,
                 history: int = 10, config_path: str | None = None) -> None:
        self.base = base  # startup-only sections (dataplane, api, demo hosts)
        self.events = events or EventBus()
        self.lock = threading.RLock()
        self.state = RouterState(max_nexthops=base.dataplane.nexthops - 1,
                                 default_vrf=base.vrf("default"))
        self.state.params = ch.LiveParams.of(base.dataplane, base.nat_timeouts)
        self.executor = Executor()
        self.executor.vrf_ids = {"default": 0}
        self.history: deque[Version] = deque(maxlen=history)
        self.version = 0
        self.candidate: RouterConfig | None = None
        self.config_path = config_path
        self.dataplane_up = False
        self.down_since: str | None = None
        self.after_commit: list = []  # callables run after each change (mirrors)

    # ---- dataplane connection ----

    def attach(self, dp: DataplaneClient) -> None:
        """A fresh dataplane: program everything the state holds into it."""
        with self.lock:
            self.executor.dp = dp
            self.executor.ports = {}
            dp.params_set(**params_fields(self.state.params))
            dp.nat_params_set(**vars(self.state.params.nat))
            self.executor.begin()
            self.executor.run(self.state.replay_ops())
            self.executor.begin()
            self.dataplane_up = True
            self.down_since = None

    def adopt(self, dp: DataplaneClient, cfg: RouterConfig, keep_port=lambda p: False,
              learned: dict | None = None) -> dict[str, int]:
        """A dataplane that outlived the previous management plane: `cfg`
        becomes the state (version 1, as at a start) without programming it
        afresh; the dataplane is changed only where it differs from it
        (core/adopt.py), so what it forwards meanwhile goes on. Returns what
        was changed, by kind. `learned`: vrf -> {prefix: candidate}, routes a
        routing daemon has in the control namespaces, kept as they are. Raises
        CannotAdopt when it cannot be done in place; the state is built
        then, so attach() a fresh dataplane."""
        from .adopt import Reconciler, nh_hints
        with self.lock:
            max_nh = dp.hello().max_nexthops
            self.state.rib.nhs.hint(nh_hints(dp, max_nh))
            changes: list[ch.Change] = diff(RouterConfig(vrfs=(cfg.vrf("default"),)), cfg)
            for vrf, routes in (learned or {}).items():
                if routes and any(v.name == vrf for v in cfg.vrfs):
                    changes.append(ch.LearnedSet(vrf, tuple(routes.items()), ()))
            self.state.rib.begin()
            for c in changes:
                self.state.apply(c)
                self._track_vrfs(c)
            self.state.rib.commit()
            self.state.rib.nhs.unhint()
            self.version = 1
            self.history.append(Version(1, now_rfc3339(), "startup configuration", tuple(
                c for c in changes if not isinstance(c, ch.LearnedSet))))
            self.executor.dp = dp
            self.executor.begin()
            done = Reconciler(self, dp, max_nh, keep_port).run()
            self.executor.begin()
            self.dataplane_up = True
            self.down_since = None
            return done

    def detach(self) -> None:
        with self.lock:
            self.dataplane_up = False
            self.down_since = now_rfc3339()
            self.executor.dp = None

    # ---- transactions ----

    def transaction(self, changes: list[ch.Change], comment: str = "",
                    record: bool = True) -> int:
        """Applies the changes all together or not at all; returns the new
        version number (the current one if there was nothing to do).
        record=False: state that is not configuration (learned routes):
        no version, nothing to roll back to."""
        with self.lock:
            if not self.dataplane_up:
                raise Unavailable("the dataplane is down (restarting); try again shortly")
            changes = [c for c in changes if not (isinstance(c, (ch.RouteAdd, ch.RouteDel))
                                                  and not c.routes)]
            if not changes:
                return self.version
            applied: list[ch.Change] = []
            route_ops: list[RouteOp | RouteBulkOp] = []
            self.executor.begin()
            self.state.rib.begin()
            try:
                for c in changes:
                    ops = self.state.apply(c)
                    applied.append(c)
                    self._track_vrfs(c)
                    self.executor.run(ops)
                    route_ops += [o for o in ops if isinstance(o, ROUTE_OPS)]
            except BaseException:
                self._abort(applied)
                raise
            self.state.rib.commit()
            self.executor.begin()
            if record:
                self.version += 1
                self.history.append(Version(self.version, now_rfc3339(), comment,
                                            tuple(changes)))
            self._announce(route_ops, comment if record else "")
            for hook in self.after_commit:
                try:
                    hook()
                except Exception:  # noqa: BLE001 - a mirror must not undo a commit
                    log.exception("after-commit hook failed")
            return self.version

    def learned(self, vrf: str, adds: dict, dels: dict) -> None:
        """Routes a daemon announced or withdrew in the VRF's namespace."""
        self.transaction([ch.LearnedSet(vrf, tuple(adds.items()), tuple(dels.items()))],
                         record=False)

    def _abort(self, applied: list[ch.Change]) -> None:
        try:
            self.executor.rollback()
        except Exception:  # noqa: BLE001 - the dataplane may be gone; resync then
            log.exception("undoing a failed transaction in the dataplane failed")
        self.state.rib.undoing()
        for c in reversed(applied):
            self.state.apply(ch.inverse(c))  # its operations were undone above
            self._track_vrfs(ch.inverse(c))
        self.state.rib.abort()
        self.executor.begin()

    def _track_vrfs(self, c: ch.Change) -> None:
        if isinstance(c, ch.VrfAdd):
            self.executor.vrf_ids[c.vrf.name] = c.vrf.id
        elif isinstance(c, ch.VrfDel):
            self.executor.vrf_ids.pop(c.vrf.name, None)

    def _announce(self, route_ops: list[RouteOp | RouteBulkOp], comment: str) -> None:
        names = {v.id: v.name for v in self.state.vrfs.values()}
        changes = [(o.vrf_id, p, o.add) for o in route_ops if isinstance(o, RouteBulkOp)
                   for p in o.prefixes[:MAX_ROUTE_EVENTS + 1]]
        changes += [(o.vrf_id, o.prefix, o.kind != "del") for o in route_ops
                    if isinstance(o, RouteOp)]
        if len(changes) <= MAX_ROUTE_EVENTS:
            for vrf_id, p, added in changes:
                self.events.publish(Event("route_added" if added else "route_removed",
                                          vrf=names.get(vrf_id, str(vrf_id)), prefix=str(p)))
        else:
            total = sum(len(o.prefixes) if isinstance(o, RouteBulkOp) else 1 for o in route_ops)
            self.events.publish(Event("route_added", detail=f"{total} FIB changes"))
        if comment:
            self.events.publish(Event("config_committed",
                                      detail=f"version {self.version}: {comment}"))

    # ---- whole configurations ----

    def running_config(self) -> RouterConfig:
        with self.lock:
            return self.state.to_config(self.base)

    def start(self, cfg: RouterConfig) -> int:
        """The startup configuration, as version 1."""
        empty = RouterConfig(vrfs=(cfg.vrf("default"),))
        return self.transaction(diff(empty, cfg), "startup configuration")

    def _config_changes(self, cfg: RouterConfig) -> list[ch.Change]:
        self._check_startup_only(cfg)
        changes = diff(self.running_config(), cfg)
        live = ch.LiveParams.of(cfg.dataplane, cfg.nat_timeouts)
        if live != self.state.params:
            changes.insert(0, ch.ParamsSet(self.state.params, live))
        return changes

    def _check_startup_only(self, cfg: RouterConfig) -> None:
        b, c = self.base.dataplane, cfg.dataplane
        live = ("arp", "icmp", "idle_sleep_us", "punt")
        changed = [f"dataplane.{f}" for f in DataplaneConfig.__dataclass_fields__
                   if f not in live and getattr(b, f) != getattr(c, f)]
        if b.arp.table_size != c.arp.table_size:
            changed.append("dataplane.arp.table_size")
        if self.base.api != cfg.api:
            changed.append("api")
        if self.base.metrics != cfg.metrics:
            changed.append("metrics")
        if self.base.demo_hosts != cfg.demo_hosts:
            changed.append("demo_hosts")
        if changed:
            raise FailedPrecondition(f"{', '.join(changed)} only take effect at start: save the "
                                     "configuration and restart the appliance")

    def parse_candidate(self, text: str, source: str) -> RouterConfig:
        import yaml
        try:
            return parse(yaml.safe_load(text), source or "<candidate>")
        except yaml.YAMLError as e:
            raise InvalidArgument(f"{source or '<candidate>'}: not valid YAML: {e}") from None
        except ConfigError as e:
            raise InvalidArgument(str(e)) from None

    def load_candidate(self, text: str, source: str) -> str:
        cfg = self.parse_candidate(text, source)
        with self.lock:
            described = "\n".join(ch.describe(c) for c in self._config_changes(cfg))
            self.candidate = cfg  # only once it is known to be applicable
            return described

    def diff_text(self) -> str:
        with self.lock:
            if self.candidate is None:
                return ""
            return "\n".join(ch.describe(c) for c in self._config_changes(self.candidate))

    def commit(self, text: str | None = None, source: str = "", comment: str = "") -> tuple[int, str]:
        with self.lock:
            cfg = self.parse_candidate(text, source) if text else self.candidate
            if cfg is None:
                raise FailedPrecondition("no candidate configuration: load one first")
            changes = self._config_changes(cfg)
            described = "\n".join(ch.describe(c) for c in changes)
            version = self.transaction(changes, comment or "commit")
            self.candidate = None
            return version, described

    def rollback(self, target: int = 0) -> tuple[int, str]:
        with self.lock:
            target = target or self.version - 1
            newer = [v for v in self.history if v.number > target]
            if target >= self.version or target < 0:
                raise InvalidArgument(f"version {target}: the running version is {self.version}")
            kept = {v.number for v in self.history}
            if any(n not in kept for n in range(target + 1, self.version + 1)):
                raise NotFound(f"version {target} is older than the kept history "
                               f"(versions {min(kept)}..{self.version})")
            undo = [ch.inverse(c) for v in reversed(newer) for c in reversed(v.changes)]
            described = "\n".join(ch.describe(c) for c in undo)
            return self.transaction(undo, f"rollback to version {target}"), described

    def save(self, path: str | None = None) -> str:
        path = path or self.config_path
        if not path:
            raise InvalidArgument("path: the router was started without a file; name one")
        save_atomic(to_yaml(self.running_config()), path)
        return path

    # ---- helpers for the services ----

    def vrf(self, name: str) -> Vrf:
        try:
            return self.state.vrfs[name]
        except KeyError:
            raise NotFound(f"vrf {name} does not exist") from None
