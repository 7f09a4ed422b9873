"""`vrouter config ...`: the candidate configuration, diff, commit,
rollback, save and history."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ..v1 import config_pb2 as pb
from ..v1 import config_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from .client import UsageError
from .words import uint

group("config", "the configuration: load a candidate, diff, commit, roll back", rank=50)


def _api(ctx):
    return ctx.api.stub(pb_grpc.ConfigServiceStub)


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None


def _lines(diff: str) -> list[str]:
    return diff.splitlines()


@command("config show", "the running configuration (YAML), or the candidate",
         arg("--candidate", action="store_true", help="the loaded candidate instead"))
def show(ctx, a):
    text = _api(ctx).Show(pb.ConfigShowRequest(candidate=a.candidate)).yaml
    if ctx.json:
        return out.emit_json(yaml.safe_load(text) or {})
    print(text, end="" if text.endswith("\n") else "\n")


@command("config load", "load FILE ('-': stdin) as the candidate; show what it changes",
         arg("file", metavar="FILE"))
def load(ctx, a):
    diff = _api(ctx).Load(pb.ConfigLoadRequest(yaml=_read(a.file), source=a.file)).diff
    if ctx.json:
        return out.emit_json({"diff": _lines(diff)})
    print(diff if diff else "the candidate is the running configuration: no changes")


@command("config diff", "what committing the candidate would change")
def diff(ctx, a):
    resp = _api(ctx).Diff(pb.ConfigDiffRequest())
    if ctx.json:
        return out.emit_json({"diff": _lines(resp.diff), "empty": resp.empty})
    print(resp.diff if not resp.empty else "no changes (or no candidate loaded)")


@command("config commit", "apply the candidate (or FILE) all together, or nothing",
         arg("file", nargs="?", metavar="FILE", help="commit this file instead of the candidate"),
         arg("-m", "--comment", default="", help="kept in the history"))
def commit(ctx, a):
    req = pb.ConfigCommitRequest(comment=a.comment)
    if a.file:
        req.yaml, req.source = _read(a.file), a.file
    resp = _api(ctx).Commit(req)
    if ctx.json:
        return out.emit_json({"version": resp.version, "diff": _lines(resp.diff)})
    if not resp.diff:
        return print(f"no changes; running version {resp.version}")
    print(f"committed version {resp.version}:\n{resp.diff}")


@command("config rollback", "undo the versions after VERSION (default: the last one)",
         arg("version", nargs="?", type=uint(0, 2**32 - 1), default=0, metavar="VERSION"))
def rollback(ctx, a):
    resp = _api(ctx).Rollback(pb.ConfigRollbackRequest(version=a.version))
    if ctx.json:
        return out.emit_json({"version": resp.version, "diff": _lines(resp.diff)})
    print(f"rolled back; now version {resp.version}" + (f":\n{resp.diff}" if resp.diff else ""))


@command("config save", "write the running configuration to a file of the router",
         arg("path", nargs="?", default="", metavar="PATH",
             help="default: the file it started from"))
def save(ctx, a):
    path = a.path
    if path and ctx.api.target.startswith("unix:"):
        path = str(Path(path).absolute())  # same machine: relative to where we are
    saved = _api(ctx).Save(pb.ConfigSaveRequest(path=path)).path
    if ctx.json:
        return out.emit_json({"path": saved})
    print(f"saved to {saved}")


@command("config history", "the committed versions kept, newest last")
def history(ctx, a):
    versions = _api(ctx).History(pb.ConfigHistoryRequest()).versions
    if ctx.json:
        return out.emit_json([out.to_dict(v) for v in versions])
    out.table(["", "VERSION", "TIME", "COMMENT"],
              [("*" if v.running else "", v.version, v.timestamp, v.comment) for v in versions],
              empty="no history")
