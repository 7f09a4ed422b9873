"""`vrouter run`: starts the appliance and runs it until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from importlib import resources
from pathlib import Path

import yaml

from ..config import ConfigError, load, parse
from . import arg, command, group
from .words import name

group("run", "start the appliance (dataplane, API) and run it until Ctrl-C", rank=90)


def default_config_text() -> str:
    return resources.files("vrouter").joinpath("configs/default.yaml").read_text()


def _config(path: str | None, insecure_tcp: bool = False):
    """The configuration to run; --insecure-tcp says api.insecure_tcp: true."""
    if path is None:
        data, source = yaml.safe_load(default_config_text()), "<embedded default>"
    elif not insecure_tcp:
        return load(path)
    else:
        try:
            data, source = yaml.safe_load(Path(path).read_text()), path
        except OSError as e:
            raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if insecure_tcp and isinstance(data, dict):
        api = data.setdefault("api", {})
        if isinstance(api, dict):
            api["insecure_tcp"] = True
    return parse(data, source)


def cmd_run(args: argparse.Namespace) -> int:
    from ..appliance import Appliance

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = _config(args.config, args.insecure_tcp)
    except ConfigError as e:
        print(f"vrouter: {e}", file=sys.stderr)
        return 2
    app = Appliance(cfg, Path(args.run_dir), name=getattr(args, "name", "vrouter"),
                    config_path=args.config, adopt=not args.no_adopt)
    stop = threading.Event()

    def on_signal(*_) -> None:
        # The supervisor must not restart a dataplane that exits now: a
        # service manager may have sent SIGTERM to it too.
        app.request_stop()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        app.start()
    except Exception as e:  # noqa: BLE001 - report any start failure plainly
        print(f"vrouter: cannot start: {e}", file=sys.stderr)
        return 1
    if app.adopted is not None:
        print(f"adopted the dataplane left running (pid {app.process.pid}); changed in it: "
              + (", ".join(f"{n} {k}" for k, n in sorted(app.adopted.items())) or "nothing"))
    print(f"vrouter running ({len(cfg.interfaces)} interfaces); API on unix:{cfg.api.socket}; "
          f"dataplane log: {Path(args.run_dir) / 'dataplane.log'}")
    if app.metrics is not None:
        print(f"  metrics: {app.metrics.url}")
    for h in cfg.demo_hosts:
        print(f"  demo host {h.name}: {h.address} on {h.interface}  "
              f"(try: ip netns exec {h.name} ping ...)")
    print("Ctrl-C stops it.", flush=True)
    try:
        stop.wait()
    finally:
        app.stop()
    return 0


@command("run", "start the appliance (dataplane, API) and run it until Ctrl-C",
         arg("-c", "--config", metavar="FILE",
             help="YAML configuration (default: the embedded demo)"),
         arg("--run-dir", metavar="DIR", default="/run/vrouter", help="sockets and logs"),
         arg("--name", type=name, default="vrouter",
             help="DPDK file prefix: distinct names let several run on one host"),
         arg("--no-adopt", action="store_true",
             help="stop a dataplane a previous `vrouter run` left running (it crashed or was "
                  "killed) and start afresh, instead of adopting it"),
         arg("--insecure-tcp", action="store_true",
             help="let api.tcp listen without mutual TLS (api.insecure_tcp: true): anyone "
                  "who reaches the port can reconfigure the router"),
         api=False)
def run(ctx, a) -> int:
    return cmd_run(a)
