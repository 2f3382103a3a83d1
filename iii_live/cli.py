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
    demo = commands.add_parser(
        "demo", help="run an engine with a simulated live feed and a page that shows it"
    )
    demo.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="stream port (default 3112; 0 picks a free one)")
    demo.add_argument("--rate", type=float, default=20.0, help="feed ticks per second (default 20)")
    demo.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING...")
    demo.set_defaults(config=None)
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        engine = start(args.config, host=args.host, port=args.port, background=True)
    except (ConfigError, PortInUseError) as exc:
        print(f"iii-live: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    if args.command == "demo":
        from .demo import MarketFeed

        feed = MarketFeed(engine, rate=args.rate).start()
        page = engine.stream_url.replace("ws://", "http://", 1)
        print(f"iii-live demo: open {page}/demo (streams: {page}/), Ctrl-C to stop", flush=True)
        engine.run_forever()
        feed.stop()
        return 0
    print(f"iii-live serving streams on {engine.stream_url}", flush=True)
    engine.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
