"""Arguments: value checks, and the iproute2-like keywords after a verb
(`route add 10.0.0.0/8 via 10.1.0.1 vrf red distance 5`).

Values are checked for their form here, before anything is sent (a clear
message naming the argument, exit 2); what needs the router's state or a
closer look (host bits in a prefix, a multicast MAC) the server checks.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from ..config.loader import MAC_RE, NAME_RE
from .client import UsageError

BadValue = argparse.ArgumentTypeError  # argparse prints its message as is


# ---- value types (usable as argparse `type=`) ----

def name(text: str) -> str:
    if not NAME_RE.match(text):
        raise BadValue(f"{text!r} is not a valid name (letter first, then letters, digits, "
                       "'_', '.', '-'; at most 15 characters)")
    return text


def ipv4(text: str) -> str:
    try:
        return str(IPv4Address(text))
    except ValueError:
        raise BadValue(f"{text!r} is not an IPv4 address") from None


def prefix(text: str) -> str:
    try:
        if "/" not in text:
            raise ValueError
        IPv4Network(text, strict=False)
    except ValueError:
        raise BadValue(f"{text!r} is not an IPv4 prefix like 10.1.0.0/16") from None
    return text  # host bits set: the server says so, suggesting the right prefix


def ifaddr(text: str) -> str:
    try:
        if "/" not in text:
            raise ValueError
        IPv4Interface(text)
    except ValueError:
        raise BadValue(f"{text!r} is not an IPv4 address with a prefix length, "
                       "like 10.0.0.1/24") from None
    return text


def mac(text: str) -> str:
    if not MAC_RE.match(text):
        raise BadValue(f"{text!r} is not a MAC address like 02:00:00:00:00:01")
    return text


def gateways(text: str) -> list[str]:
    return [ipv4(g) for g in text.split(",")]


def uint(lo: int, hi: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            v = int(text, 0)
        except ValueError:
            raise BadValue(f"{text!r} is not a number") from None
        if not lo <= v <= hi:
            raise BadValue(f"{v} is out of range {lo}..{hi}")
        return v
    return check


def seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise BadValue(f"{text!r} is not a number of seconds") from None
    if not 0.05 <= v <= 3600:
        raise BadValue(f"{v:g} is out of range 0.05..3600 seconds")
    return v


# ---- keywords ----

@dataclass(frozen=True)
class W:
    """One keyword: `word VALUE`, a flag (`type=None`: stores `const`), or
    with `word=None` the one free word (a value without a keyword)."""

    word: str | None
    type: Callable[[str], Any] | None = str
    dest: str = ""
    metavar: str = "VALUE"
    help: str = ""
    const: Any = True
    multi: bool = False  # may repeat; the values make a list
    required: bool = False
    complete: Callable | None = None  # (prefix, parsed_args) -> names

    @property
    def key(self) -> str:
        return self.dest or (self.word or "value").replace("-", "_")

    def usage(self) -> str:
        text = (self.word if self.type is None else self.metavar if self.word is None
                else f"{self.word} {self.metavar}")
        return text if self.required else f"[{text}]"


def flag(word: str, dest: str, const: Any = True, help: str = "") -> W:
    return W(word, None, dest=dest, const=const, help=help)


class Words:
    """The keywords a command takes after its positional arguments."""

    def __init__(self, *spec: W, check: Callable[[dict], None] | None = None) -> None:
        """`check(values)`: raises UsageError if they do not go together."""
        self.spec = spec
        self.by_word = {w.word: w for w in spec if w.word}
        self.check = check

    @property
    def free(self) -> W | None:
        return next((w for w in self.spec if w.word is None), None)

    def usage(self) -> str:
        out, seen = [], set()
        for w in self.spec:  # flags with one dest: [up|down]
            if w.type is None and w.key not in seen:
                alts = [x.word for x in self.spec if x.type is None and x.key == w.key]
                out.append(("{}" if w.required else "[{}]").format("|".join(alts)))
                seen.add(w.key)
            elif w.type is not None:
                out.append(w.usage())
        return " ".join(out)

    def help(self) -> str:
        lines = [f"  {w.usage().removeprefix('[').removesuffix(']'):<22}  {w.help}"
                 for w in self.spec if w.help]
        return "keywords:\n" + "\n".join(lines) if lines else ""

    def defaults(self) -> dict[str, Any]:
        return {w.key: [] if w.multi else None for w in self.spec}

    def parse(self, tokens: list[str]) -> dict[str, Any]:
        out = self.defaults()
        given: dict[str, str] = {}
        expected = ", ".join(self.by_word)
        it = iter(tokens)
        for tok in it:
            w = self.by_word.get(tok) or (self.free if self.free and self.free.key not in given
                                          else None)
            if w is None:
                raise UsageError(f"unexpected {tok!r}" + (f" (expected: {expected})"
                                                          if expected else ""))
            if w.word is None:
                value = tok
            elif w.type is None:
                value = None
            else:
                value = next(it, None)
                if value is None:
                    raise UsageError(f"{w.word}: needs a value ({w.metavar})")
            if w.key in given and not w.multi:
                what = given[w.key]
                raise UsageError(f"{w.word or w.metavar}: " + (
                    "given twice" if what == (w.word or w.metavar) else f"conflicts with {what}"))
            given[w.key] = w.word or w.metavar
            if w.type is None:
                out[w.key] = w.const
                continue
            try:
                v = w.type(value)
            except BadValue as e:
                raise UsageError(f"{w.word or w.metavar}: {e}") from None
            if w.multi:
                out[w.key] += v if isinstance(v, list) else [v]
            else:
                out[w.key] = v
        for w in self.spec:
            if w.required and w.key not in given:
                raise UsageError(f"missing {w.usage()}")
        if self.check is not None:
            self.check(out)
        return out

    def completer(self, prefix: str, parsed_args, **_) -> list[str]:
        """argcomplete: the keywords still free, or the value a keyword wants."""
        tokens = list(getattr(parsed_args, "words", None) or [])
        if tokens and (w := self.by_word.get(tokens[-1])) and w.type is not None:
            return w.complete(prefix, parsed_args) if w.complete else []
        used = {self.by_word[t].key for t in tokens if t in self.by_word}
        out = [w.word for w in self.spec if w.word and (w.multi or w.key not in used)]
        if self.free and self.free.complete and self.free.key not in used:
            out += self.free.complete(prefix, parsed_args)
        return out


# ---- completion of names known to the router (best effort, quick) ----

def _names(kind: str, parsed_args) -> list[str]:
    from .client import DEFAULT_API, Api, CliError, TlsFiles
    try:
        tls = TlsFiles(*(getattr(parsed_args, k, None)
                         for k in ("tls_ca", "tls_cert", "tls_key")))
        api = Api(getattr(parsed_args, "api", None) or DEFAULT_API, timeout=1.0, tls=tls)
        try:
            if kind == "interface":
                from ..v1 import interface_pb2 as pb
                from ..v1 import interface_pb2_grpc as grpc_pb
                resp = api.stub(grpc_pb.InterfaceServiceStub).List(pb.InterfaceListRequest())
                return [i.name for i in resp.interfaces]
            from ..v1 import vrf_pb2 as pb
            from ..v1 import vrf_pb2_grpc as grpc_pb
            return [v.name for v in api.stub(grpc_pb.VrfServiceStub).List(pb.VrfListRequest()).vrfs]
        finally:
            api.close()
    except (CliError, OSError):
        return []


def interfaces(prefix: str = "", parsed_args=None, **_) -> list[str]:
    return _names("interface", parsed_args)


def vrfs(prefix: str = "", parsed_args=None, **_) -> list[str]:
    return _names("vrf", parsed_args)
