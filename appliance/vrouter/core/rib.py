"""The routing information base: all candidate routes of every VRF, best-path
selection, recursive next-hop resolution, and the FIB it programs as a diff.

- A prefix may have several candidates (connected, local, static with
  different distances, learned). The best active one wins: lowest
  (distance, metric); equal ones merge their next hops (ECMP).
- A candidate is active when its next hops resolve. Gateways resolve by
  longest-prefix match on active routes of the VRF (or of `via_vrf` for a
  leaked route), recursively, down to neighbours on connected subnets.
  Resolution is the least fixed point, recomputed from scratch when a change
  can affect a gateway, so routes that only resolve through each other stay
  inactive, and a route never keeps itself alive.
- Next hops with the same gateways share one spec; resolutions map to
  dataplane next-hop ids, refcounted. Connected and local prefixes are the
  dataplane's own (it installs them with the interface address), so the RIB
  never programs them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import IPv4Address
from typing import Iterable, NamedTuple

from ..config.model import Prefix
from ..dataplane.messages import NhType
from .errors import FailedPrecondition
from .ops import NhOp, Op, RouteBulkOp, RouteOp

MAX_RESOLVE_ROUNDS = 16  # recursion depth the fixed point follows
MAX_ECMP = 16  # VR_MAX_ECMP


class Source(IntEnum):
    CONNECTED = 1
    LOCAL = 2
    STATIC = 3
    LEARNED = 4


class Spec(NamedTuple):
    """What a candidate points at, shared by all routes with the same target."""

    kind: str                    # "gw" | "blackhole" | "reject" | "connected" | "local"
    gateways: tuple[int, ...] = ()
    vrf: str = ""                # where the gateways are resolved
    interface: str = ""          # connected/local


class Candidate(NamedTuple):
    source: Source
    distance: int
    metric: int
    spec: Spec
    origin: object = None        # the Route (static), or a label for learned routes


# A resolution: frozenset of (interface, gateway ip) to forward to, or one of:
BLACKHOLE = "blackhole"
REJECT = "reject"
CONNECTED = "connected"  # the prefix is an interface's own (dataplane-managed)
Resolution = frozenset | str | None


def _covering(ip: int) -> Iterable[Prefix]:
    for plen in range(32, -1, -1):
        yield Prefix(ip & (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF, plen)


@dataclass
class NhTable:
    """Dataplane next hops in use: one per (interface, gateway), one per ECMP
    set, one blackhole and one reject; ids refcounted by FIB entries."""

    max_id: int = 65535
    by_key: dict[tuple, int] = field(default_factory=dict)
    refs: dict[int, int] = field(default_factory=dict)
    keys: dict[int, tuple] = field(default_factory=dict)
    _next: int = 1
    _free: list[int] = field(default_factory=list)
    # Adopting a running dataplane: key -> the id it already has for that
    # next hop, so the same next hops keep their ids (see hint()).
    hints: dict[tuple, int] = field(default_factory=dict)

    def hint(self, hints: dict[tuple, int]) -> None:
        """Before the first acquire: a key in `hints` gets that id; no other
        key gets one of those ids until `unhint()`."""
        assert not self.keys, "hints go on an empty table"
        self.hints = {k: v for k, v in hints.items() if 1 <= v <= self.max_id}
        top = max(self.hints.values(), default=0)
        taken = set(self.hints.values())
        self._next = top + 1
        self._free = [i for i in range(top, 0, -1) if i not in taken]

    def unhint(self) -> None:
        """Hinted ids no key took become free ids."""
        self._free += [i for i in set(self.hints.values()) if i not in self.keys]
        self.hints = {}

    def _alloc(self, key: tuple | None = None) -> int:
        want = self.hints.get(key) if self.hints else None
        if want is not None and want not in self.keys:
            return want
        if self._free:
            return self._free.pop()
        if self._next > self.max_id:
            raise FailedPrecondition(f"all {self.max_id} next-hop ids are in use "
                                     "(dataplane.nexthops)")
        self._next += 1
        return self._next - 1

    def acquire(self, res: Resolution, pre: list[Op]) -> int:
        if isinstance(res, str):
            key: tuple = (res,)
        elif len(res) == 1:
            key = ("gw", *next(iter(res)))
        else:
            members = sorted(res)[:MAX_ECMP]
            ids = tuple(sorted(self.acquire(frozenset([m]), pre) for m in members))
            key = ("group", ids)
        nh = self.by_key.get(key)
        if nh is None:
            nh = self._alloc(key)
            self.by_key[key] = nh
            self.keys[nh] = key
            self.refs[nh] = 0
            pre.append(self.op(nh, add=True))
        elif key[0] == "group":
            for m in key[1]:  # the members were acquired again above
                self.refs[m] -= 1
        self.refs[nh] += 1
        return nh

    def release(self, nh: int, post: list[Op]) -> None:
        self.refs[nh] -= 1
        if self.refs[nh] > 0:
            return
        key = self.keys.pop(nh)
        del self.by_key[key], self.refs[nh]
        post.append(self.op(nh, add=False, key=key))
        self._free.append(nh)
        if key[0] == "group":
            for m in key[1]:
                self.release(m, post)

    def op(self, nh: int, add: bool, key: tuple | None = None) -> NhOp:
        key = key or self.keys[nh]
        if key[0] == "gw":
            return NhOp(add, nh, NhType.GATEWAY, key[1], IPv4Address(key[2]))
        if key[0] == "group":
            return NhOp(add, nh, NhType.GROUP, members=key[1])
        return NhOp(add, nh, NhType.BLACKHOLE if key[0] == BLACKHOLE else NhType.REJECT)

    def all_ops(self) -> list[NhOp]:
        """Adds for every next hop in use, members before groups (replay)."""
        ids = sorted(self.keys, key=lambda n: self.keys[n][0] == "group")
        return [self.op(n, add=True) for n in ids]


class Rib:
    def __init__(self, max_nexthops: int = 65535) -> None:
        self.entries: dict[str, dict[Prefix, list[Candidate]]] = {}
        self.fib: dict[str, dict[Prefix, int]] = {}
        self.users: dict[str, dict[Spec, set[Prefix]]] = {}
        self.vrf_ids: dict[str, int] = {}
        self.res: dict[Spec, Resolution] = {}
        self.nhs = NhTable(max_id=max_nexthops)
        self._saved: tuple | None = None  # transaction: (nhs, res, fresh, fib log)
        self._logging = False

    # ---- transactions ----

    def begin(self) -> None:
        """Remember enough to put the RIB back exactly (next-hop ids
        included) if the transaction is aborted."""
        n = self.nhs
        nhs = NhTable(n.max_id, dict(n.by_key), dict(n.refs), dict(n.keys), n._next,
                      list(n._free))
        self._saved = (nhs, dict(self.res), [], {})
        self._logging = True

    def undoing(self) -> None:
        """The transaction's changes are being reverted: what they do to the
        FIB view is not the original state, so stop recording it."""
        self._logging = False

    def abort(self) -> None:
        """After the candidates were put back (inverse changes), restore the
        FIB view and the next hops as they were at begin()."""
        assert self._saved is not None
        self.nhs, self.res, fresh, log = self._saved
        for vrf, ps in fresh:
            fib = self.fib.get(vrf)
            for p in ps if fib is not None else ():
                fib.pop(p, None)
        for (vrf, p), nh in log.items():
            fib = self.fib.get(vrf)
            if fib is None:
                continue
            if nh:
                fib[p] = nh
            else:
                fib.pop(p, None)
        self._saved = None

    def commit(self) -> None:
        self._saved = None

    # ---- VRFs ----

    def add_vrf(self, name: str, vrf_id: int) -> None:
        self.entries[name] = {}
        self.fib[name] = {}
        self.users[name] = defaultdict(set)
        self.vrf_ids[name] = vrf_id

    def del_vrf(self, name: str) -> None:
        assert not self.entries[name], "VRF still has routes"
        for d in (self.entries, self.fib, self.users, self.vrf_ids):
            del d[name]

    # ---- changes ----

    def update(self, adds: Iterable[tuple[str, Prefix, Candidate]] = (),
               dels: Iterable[tuple[str, Prefix, Candidate]] = ()) -> list[Op]:
        """Applies candidate changes; returns the dataplane operations that
        bring the FIB in line: next-hop adds, route changes, next-hop deletes.
        If it raises, the candidates are as they were (the FIB view and the
        next hops are restored by the transaction's abort())."""
        adds, dels = list(adds), list(dels)
        touched: dict[str, set[Prefix]] = defaultdict(set)
        self._remove(dels, touched)
        fresh, new_specs = self._add(adds, touched)
        try:
            return self._reconcile(touched, fresh, new_specs)
        except BaseException:
            self._remove(adds, defaultdict(set))
            self._add(dels, defaultdict(set))
            raise

    def _remove(self, dels: list[tuple[str, Prefix, Candidate]],
                touched: dict[str, set[Prefix]]) -> None:
        for vrf, p, c in dels:
            cands = self.entries[vrf][p]
            cands.remove(c)
            if not cands:
                del self.entries[vrf][p]
            # another candidate of the prefix may use the same gateways
            if c.spec.kind == "gw" and not any(o.spec == c.spec for o in cands):
                users = self.users[vrf][c.spec]
                users.discard(p)
                if not users:
                    del self.users[vrf][c.spec]
            touched[vrf].add(p)

    def _add(self, adds: list[tuple[str, Prefix, Candidate]],
             touched: dict[str, set[Prefix]]) -> tuple[list, bool]:
        """Adds candidates, grouped by target. Prefixes new to the RIB form a
        "fresh" group: they all get the same next hop, in one bulk operation."""
        # Group by the spec object's identity: bulk loads share one spec, and
        # hashing the spec (a tuple of tuples) per route is slow.
        groups: dict[tuple[str, int], list[tuple[Prefix, Candidate]]] = defaultdict(list)
        for vrf, p, c in adds:
            groups[(vrf, id(c.spec))].append((p, c))
        fresh: list[tuple[str, Spec, list[Prefix]]] = []
        new_specs = False
        for (vrf, _), items in groups.items():
            spec = items[0][1].spec
            entries = self.entries[vrf]
            new_ps = []
            for p, c in items:
                cands = entries.get(p)
                if cands is None:
                    entries[p] = [c]
                    new_ps.append(p)
                else:
                    cands.append(c)
                    touched[vrf].add(p)
            if spec.kind == "gw":
                self.users[vrf][spec].update(p for p, _ in items)
                new_specs |= spec not in self.res
            if new_ps:
                fresh.append((vrf, spec, new_ps))
        return fresh, new_specs

    def _reconcile(self, touched: dict[str, set[Prefix]],
                   fresh: list[tuple[str, Spec, list[Prefix]]], force: bool) -> list[Op]:
        fresh_sets = {}
        if fresh and self.res:
            for vrf, _, ps in fresh:
                fresh_sets.setdefault(vrf, set()).update(ps)
        if force or self._gateways_affected(touched) or self._gateways_affected(fresh_sets):
            old = self.res
            self.res = self._resolve_all()
            # Specs new in this update only serve the prefixes just added,
            # which are evaluated anyway.
            changed = {s for s in old if old[s] != self.res.get(s)}
            if changed:
                for vrf, users in self.users.items():
                    for spec in changed:
                        touched[vrf] |= users.get(spec, set())
        pre: list[Op] = []
        routes: list[Op] = []
        post: list[Op] = []
        old: list[int] = []
        for vrf, spec, ps in fresh:
            t = touched.get(vrf)
            if t:
                ps = [p for p in ps if p not in t]  # re-evaluated one by one below
            self._program_fresh(vrf, spec, ps, pre, routes)
        for vrf, prefixes in touched.items():
            if vrf in self.fib:
                self._program(vrf, prefixes, pre, routes, old)
        # Only now: an id freed before every acquire is done could be handed
        # out again while the dataplane still has it.
        for nh in old:
            self.nhs.release(nh, post)
        return pre + routes + post

    def _program_fresh(self, vrf: str, spec: Spec, ps: list[Prefix], pre: list[Op],
                       routes: list[Op]) -> None:
        """Prefixes with this one candidate and no FIB entry yet."""
        want = self._fib_value(vrf, ps[0]) if ps else None
        if want is None:
            return
        nh = self.nhs.acquire(want, pre)
        self.nhs.refs[nh] += len(ps) - 1
        self.fib[vrf].update(dict.fromkeys(ps, nh))
        routes.append(RouteBulkOp(self.vrf_ids[vrf], ps, nh, True))
        if self._saved is not None and self._logging:
            self._saved[2].append((vrf, ps))

    def _program(self, vrf: str, prefixes: Iterable[Prefix], pre: list[Op], routes: list[Op],
                 old: list[int]) -> None:
        """Re-evaluates prefixes one by one; the next hops they stop using
        are appended to `old` for the caller to release."""
        fib, vrf_id = self.fib[vrf], self.vrf_ids[vrf]
        log = self._saved[3] if self._saved is not None and self._logging else None
        for p in prefixes:
            want = self._fib_value(vrf, p)
            have = fib.get(p)
            if want is None and have is None:
                continue
            new = self.nhs.acquire(want, pre) if want is not None else 0
            if new == have:  # same next hop: keys are unique
                old.append(new)
                continue
            routes.append(RouteOp(vrf_id, p, new, have or 0))
            if log is not None:
                log.setdefault((vrf, p), have or 0)
            if new:
                fib[p] = new
            else:
                del fib[p]
            if have is not None:
                old.append(have)

    def _gateways_affected(self, touched: dict[str, set[Prefix]]) -> bool:
        if not touched:
            return False
        for spec in self.res:
            t = touched.get(spec.vrf)
            if t and any(p in t for gw in spec.gateways for p in _covering(gw)):
                return True
        return False

    # ---- selection and resolution ----

    def _resolve_all(self) -> dict[Spec, Resolution]:
        specs = {s for users in self.users.values() for s in users}
        res: dict[Spec, Resolution] = {s: None for s in specs}
        for _ in range(MAX_RESOLVE_ROUNDS):
            nxt = {s: self._resolve_spec(s, res) for s in specs}
            if nxt == res:
                break
            res = nxt
        return res

    def _resolve_spec(self, spec: Spec, res: dict[Spec, Resolution]) -> Resolution:
        members: set[tuple[str, int]] = set()
        for gw in spec.gateways:
            members |= self._resolve_ip(spec.vrf, gw, res)
        return frozenset(members) if members else None

    def _resolve_ip(self, vrf: str, ip: int, res: dict[Spec, Resolution]) -> set:
        entries = self.entries.get(vrf, {})
        for p in _covering(ip):
            cands = entries.get(p)
            if not cands:
                continue
            best = self._best(cands, res)
            if best is None:
                continue
            if best == CONNECTED:
                if any(c.spec.kind == "local" for c in cands) or p.plen == 32:
                    return set()  # the gateway is one of our own addresses
                iface = next(c.spec.interface for c in cands if c.spec.kind == "connected")
                return {(iface, ip)}
            if isinstance(best, frozenset):
                return set(best)
            return set()  # through a blackhole or reject: unreachable
        return set()

    def _best(self, cands: list[Candidate], res: dict[Spec, Resolution]) -> Resolution:
        """The resolution of the best active candidates of a prefix."""
        active = [c for c in cands if self._active(c, res)]
        if not active:
            return None
        top = min((c.distance, c.metric) for c in active)
        winners = [c for c in active if (c.distance, c.metric) == top]
        kind = winners[0].spec.kind
        if kind in ("connected", "local"):
            return CONNECTED
        if kind in ("blackhole", "reject"):
            return BLACKHOLE if kind == "blackhole" else REJECT
        members: set = set()
        for c in winners:
            r = res.get(c.spec)
            if isinstance(r, frozenset):
                members |= r
        return frozenset(members)

    @staticmethod
    def _active(c: Candidate, res: dict[Spec, Resolution]) -> bool:
        return c.spec.kind != "gw" or res.get(c.spec) is not None

    def _fib_value(self, vrf: str, p: Prefix) -> Resolution:
        cands = self.entries[vrf].get(p)
        if not cands:
            return None
        if len(cands) == 1 and cands[0].spec.kind == "gw":  # the common case, fast
            return self.res.get(cands[0].spec)
        best = self._best(cands, self.res)
        return None if best == CONNECTED else best

    # ---- views ----

    def selected(self, vrf: str, p: Prefix) -> list[Candidate]:
        cands = self.entries[vrf].get(p, [])
        active = [c for c in cands if self._active(c, self.res)]
        if not active:
            return []
        top = min((c.distance, c.metric) for c in active)
        return [c for c in active if (c.distance, c.metric) == top]

    def resolution(self, spec: Spec) -> Resolution:
        if spec.kind == "gw":
            return self.res.get(spec)
        return {"blackhole": BLACKHOLE, "reject": REJECT}.get(spec.kind, CONNECTED)

    def lookup(self, vrf: str, ip: int) -> Prefix | None:
        """The longest prefix with an active route covering ip."""
        entries = self.entries.get(vrf, {})
        for p in _covering(ip):
            if p in entries and self.selected(vrf, p):
                return p
        return None

    def replay_ops(self) -> list[Op]:
        """Everything the RIB has programmed, for a fresh dataplane."""
        ops: list[Op] = list(self.nhs.all_ops())
        for vrf, fib in self.fib.items():
            by_nh: dict[int, list[Prefix]] = defaultdict(list)
            for p, nh in fib.items():
                by_nh[nh].append(p)
            ops.extend(RouteBulkOp(self.vrf_ids[vrf], ps, nh, True) for nh, ps in by_nh.items())
        return ops

    def count(self, vrf: str) -> tuple[int, int]:
        """(prefixes in the RIB, prefixes the RIB programmed into the FIB)."""
        return len(self.entries.get(vrf, {})), len(self.fib.get(vrf, {}))
