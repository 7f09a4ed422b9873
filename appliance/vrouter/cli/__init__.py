# PYTHON_ARGCOMPLETE_OK
"""The `vrouter` command. `vrouter run` starts the appliance; every other
command is a client of its gRPC API: an object, a verb, then iproute2-like
keywords, e.g. `vrouter route add 10.9.0.0/16 via 10.0.0.2 vrf red`.

Each module of this package registers its own commands with `@command`
(and its objects with `group()`); main() imports them all, builds the
parser and runs the one asked for.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import output
from .client import DEFAULT_API, Api, CliError, TlsFiles, UsageError
from .words import Words, seconds

try:
    import argcomplete
except ImportError:  # completion is optional
    argcomplete = None

EPILOG = """\
exit status: 0 ok, 1 the server refused (the message says why), 2 bad arguments,
3 the API cannot be reached. Tab completion: eval "$(register-python-argcomplete vrouter)"
"""

VERB_ALIASES = {"show": ["list", "ls"], "del": ["delete"]}


@dataclass
class Command:
    paths: tuple[tuple[str, ...], ...]
    fn: Callable[[Ctx, argparse.Namespace], int | None]
    help: str
    args: tuple[tuple, ...]
    words: Words | None
    api: bool  # a client of the API (everything but `run`)


@dataclass
class Group:
    help: str
    aliases: list[str]
    rank: int


@dataclass
class Ctx:
    """What a command gets besides its arguments."""

    api: Api
    json: bool


COMMANDS: list[Command] = []
GROUPS: dict[tuple[str, ...], Group] = {}


def group(path: str, help: str, aliases: tuple[str, ...] = (), rank: int = 50) -> None:
    """Declares an object (`route`), a sub-object (`interface address`) or a
    verb-less command (`stats`): its help, aliases and place in the list."""
    GROUPS[tuple(path.split())] = Group(help, list(aliases), rank)


def arg(*names: str, complete: Callable | None = None, **kw: Any) -> tuple:
    """An argparse argument of a command; `complete`: an argcomplete completer."""
    return names, kw, complete


def command(paths: str | tuple[str, ...], help: str, *args: tuple, words: Words | None = None,
            api: bool = True):
    """Registers `fn(ctx, args)` as `vrouter <path>` (one path or several)."""
    def deco(fn):
        ps = (paths,) if isinstance(paths, str) else paths
        COMMANDS.append(Command(tuple(tuple(p.split()) for p in ps), fn, help, args, words, api))
        return fn
    return deco


def _load_features() -> None:
    for m in pkgutil.iter_modules(__path__):
        if not m.name.startswith("_"):  # not __main__
            importlib.import_module(f"{__name__}.{m.name}")


# ---- the parser ----

def build_parser() -> argparse.ArgumentParser:
    _load_features()
    top = argparse.ArgumentParser(
        prog="vrouter", description="vrouter NFV appliance: start it, or manage it through its API.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--api", metavar="ADDR", default=os.environ.get("VROUTER_API") or DEFAULT_API,
                     help="the API: a socket path, unix:PATH or host:port "
                          f"(default: $VROUTER_API, else {DEFAULT_API})")
    tls_options = (("--tls-ca", "VROUTER_TLS_CA", "the CA that signed the server's certificate"),
                   ("--tls-cert", "VROUTER_TLS_CERT", "our client certificate"),
                   ("--tls-key", "VROUTER_TLS_KEY", "its private key"))
    for opt, env, what in tls_options:
        top.add_argument(opt, metavar="FILE", default=os.environ.get(env) or None,
                         help=f"TCP API with TLS: {what}, PEM (default: ${env})")
    top.add_argument("-j", "--json", action="store_true",
                     help="machine-readable output: one JSON document (streams: one per line)")
    top.add_argument("--batch", metavar="FILE",
                     help="run the commands in FILE ('-': stdin), one per line; stop at the "
                          "first error")
    top.add_argument("--timeout", metavar="SECONDS", type=seconds, default=10.0,
                     help="for connecting and for each request (default: %(default)gs)")
    parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {(): top}
    subs: dict[tuple[str, ...], Any] = {}

    def node(path: tuple[str, ...], help: str = "", aliases: list[str] | None = None):
        if path not in parsers:
            parent = node(path[:-1]) if len(path) > 1 else top
            if path[:-1] not in subs:
                subs[path[:-1]] = parent.add_subparsers(
                    title="objects" if len(path) == 1 else "verbs",
                    metavar="OBJECT" if len(path) == 1 else "VERB")
            g = GROUPS.get(path)
            p = subs[path[:-1]].add_parser(
                path[-1], help=g.help if g else help, description=g.help if g else help,
                aliases=g.aliases if g else aliases or [],
                formatter_class=argparse.RawDescriptionHelpFormatter)
            p.set_defaults(_group=path)
            parsers[path] = p
        return parsers[path]

    for path in sorted((p for p in GROUPS if len(p) == 1), key=lambda p: (GROUPS[p].rank, p)):
        node(path)
    for cmd in COMMANDS:
        for path in cmd.paths:
            _leaf(node(path, cmd.help, VERB_ALIASES.get(path[-1])), cmd, path)
    return top


def _leaf(p: argparse.ArgumentParser, cmd: Command, path: tuple[str, ...]) -> None:
    p.set_defaults(_cmd=cmd, _path=path)
    if cmd.api:
        p.add_argument("-j", "--json", action="store_true", default=argparse.SUPPRESS,
                       help="machine-readable output")
    for names, kw, complete in cmd.args:
        action = p.add_argument(*names, **kw)
        if complete is not None:
            action.completer = complete
    if cmd.words is not None:
        p.usage = f"{p.format_usage().removeprefix('usage: ').strip()} {cmd.words.usage()}"
        action = p.add_argument("words", nargs="*", metavar="WORD", help="keywords, see below")
        action.completer = cmd.words.completer
        p.epilog = cmd.words.help()


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    try:
        a = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed why (or the help)
        err = CliError(None)
        err.exit_code = 0 if e.code in (0, None) else 2
        raise err from None
    if getattr(a, "_cmd", None) is None and getattr(a, "_group", None):
        verbs = sorted({p[-1] for c in COMMANDS for p in c.paths if p[:-1] == a._group})
        if "show" in verbs:  # `vrouter route` is `vrouter route show`
            return parse(parser, [*argv, "show"])
        raise UsageError(f"{' '.join(a._group)}: missing verb (one of: {', '.join(verbs)})")
    cmd = getattr(a, "_cmd", None)
    if cmd is not None and cmd.words is not None:
        try:
            vars(a).update(cmd.words.parse(a.words))
        except UsageError as e:
            raise UsageError(f"{' '.join(a._path)}: {e.message}") from None
    return a


# ---- running ----

def _report(e: CliError) -> int:
    if e.message:
        print(f"vrouter: {e.message}", file=sys.stderr)
    return e.exit_code


def _execute(a: argparse.Namespace, api: Api) -> int:
    return a._cmd.fn(Ctx(api, a.json), a) or 0


def _batch(parser: argparse.ArgumentParser, a: argparse.Namespace, api: Api) -> int:
    """Every line is checked first (a bad one: nothing runs); then they run
    in order, stopping at the first the server refuses."""
    name = a.batch
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
    except OSError as e:
        raise UsageError(f"--batch: cannot read {name}: {e.strerror}") from None
    todo = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
            if words[:1] == ["vrouter"]:
                words = words[1:]
            if not words:
                continue
            b = parse(parser, words)
            if getattr(b, "_cmd", None) is None or not b._cmd.api or b.batch:
                raise UsageError("not a command a batch can run")
        except (CliError, ValueError) as e:
            if isinstance(e, CliError):
                _report(e)
            else:
                print(f"vrouter: {e}", file=sys.stderr)
            raise UsageError(f"{name} line {n}: bad command; nothing was run") from None
        b.json = a.json or b.json
        todo.append((n, line.strip(), b))
    output.one_per_line = True  # with --json: one line per command's document
    try:
        for k, (n, line, b) in enumerate(todo):
            try:
                _execute(b, api)
            except CliError as e:
                _report(e)
                stop = CliError(f"{name} line {n}: stopped at `{line}`; the {k} command(s) "
                                "before it were applied, the rest not run")
                stop.exit_code = e.exit_code
                raise stop from None
    finally:
        output.one_per_line = False
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if argcomplete is not None:
        argcomplete.autocomplete(parser, always_complete_options=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    api = None
    try:
        a = parse(parser, argv)
        api = Api(a.api, a.timeout, TlsFiles(a.tls_ca, a.tls_cert, a.tls_key))
        if a.batch:
            if getattr(a, "_cmd", None) is not None:
                raise UsageError("--batch: the commands go in the file, not after it")
            return _batch(parser, a, api)
        if getattr(a, "_cmd", None) is None:
            parser.print_usage(sys.stderr)
            raise UsageError("missing command (vrouter -h lists them)")
        return _execute(a, api)
    except CliError as e:
        return _report(e)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `vrouter route show | head`
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141  # as if killed by SIGPIPE
    finally:
        if api is not None:
            api.close()


from .run import default_config_text

__all__ = ["Ctx", "arg", "command", "default_config_text", "group", "main"]
