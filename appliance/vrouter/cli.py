"""The `vrouter` command."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from importlib import resources
from pathlib import Path

from .config import ConfigError, load, parse

import yaml


def default_config_text() -> str:
    return resources.files("vrouter").joinpath("configs/default.yaml").read_text()


def cmd_run(args: argparse.Namespace) -> int:
    from .appliance import Appliance

    try:
        cfg = load(args.config) if args.config else parse(yaml.safe_load(default_config_text()),
                                                          "<embedded default>")
    except ConfigError as e:
        print(f"vrouter: {e}", file=sys.stderr)
        return 2
    app = Appliance(cfg, Path(args.run_dir), config_path=args.config)
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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(prog="vrouter", description="vrouter NFV appliance")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the appliance")
    run.add_argument("-c", "--config", help="YAML configuration (default: the embedded demo)")
    run.add_argument("--run-dir", default="/run/vrouter", help="sockets and logs")
    run.set_defaults(fn=cmd_run)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
