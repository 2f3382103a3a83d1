"""``iii-live``: run a standalone engine from the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from . import start
from .errors import ConfigError, PortInUseError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iii-live", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run an engine until interrupted")
    serve.add_argument("--config", help="iii config file (reads its iii-stream block)")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="stream port (default 3112; 0 picks a free one)")
    serve.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING...")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        engine = start(args.config, host=args.host, port=args.port, background=True)
    except (ConfigError, PortInUseError) as exc:
        print(f"iii-live: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    print(f"iii-live serving streams on {engine.stream_url}", flush=True)
    engine.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
