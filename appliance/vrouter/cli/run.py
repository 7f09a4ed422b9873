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


def cmd_run(args: argparse.Namespace) -> int:
    from ..appliance import Appliance

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load(args.config) if args.config else parse(yaml.safe_load(default_config_text()),
                                                          "<embedded default>")
    except ConfigError as e:
        print(f"vrouter: {e}", file=sys.stderr)
        return 2
    app = Appliance(cfg, Path(args.run_dir), name=getattr(args, "name", "vrouter"), config_path=args.config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        app.start()
    except Exception as e:  # noqa: BLE001 - report any start failure plainly
        print(f"vrouter: cannot start: {e}", file=sys.stderr)
        return 1
    print(f"vrouter running ({len(cfg.interfaces)} interfaces); API on unix:{cfg.api.socket}; "
          f"dataplane log: {Path(args.run_dir) / 'dataplane.log'}")
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
         api=False)
def run(ctx, a) -> int:
    return cmd_run(a)
