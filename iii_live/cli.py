"""The ``iii-live`` command: a standalone engine (serving dashboards, if given), or the live demo."""

from __future__ import annotations

import argparse
import logging
import os
import re
import runpy
import signal
import sys
from typing import Any

from . import __version__, start
from .errors import ConfigError, PortInUseError

DESCRIPTION = "Run the iii realtime stream engine from the command line, or its live demo."
EPILOG = """examples:
  iii-live demo                               a simulated feed and a page that shows it
  iii-live demo --port 0                      the same on free ports
  iii-live serve --config iii-config.yaml     the iii-stream block of an iii config file
  iii-live serve --port 3112 --engine-port 49134
  iii-live serve --dashboard app.py           run app.py, which publishes dashboards with engine.publish()"""

# The engine names its keyword arguments in the port-in-use message; here they are flags.
PORT_KEYWORDS = {"engine_port": "--engine-port", "port": "--port"}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ports = {"port": args.port}
    if args.engine_port is not None:
        ports["engine_port"] = None if args.engine_port == "off" else int(args.engine_port)
    try:
        engine = start(args.config, host=args.host, background=True, **ports)
    except PortInUseError as exc:
        print(f"iii-live: {as_flags(str(exc.strerror or exc))}", file=sys.stderr)
        return 2
    except ConfigError as exc:
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
    if engine.engine_url:
        print(f"iii SDK workers connect to {engine.engine_url}", flush=True)
    for app in args.dashboard:
        try:
            run_app(app, engine)
        except KeyboardInterrupt:
            engine.stop()
            return 0
        except BaseException as exc:  # the app's own error, reported as the command's
            logging.getLogger("iii_live").exception("dashboard app %s failed", app)
            print(f"iii-live: dashboard app {app} failed: {exc!r}", file=sys.stderr)
            engine.stop()
            return 1
    base = engine.stream_url.replace("ws://", "http://", 1)
    for name in engine.dashboards.names():
        published = engine.dashboards.get(name)
        if published is not None:
            print(f"dashboard {name}: {published.link(base)}", flush=True)
    engine.run_forever()
    return 0


def run_app(target: str, engine: Any) -> None:
    """Run a dashboard app, a Python file or an importable module, as a script (``__main__``)
    with ``engine`` defined: it builds dashboards and calls ``engine.publish(...)``."""
    init = {"engine": engine}
    if target.endswith(".py") or os.sep in target:
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, init_globals=init, run_name="__main__")
    else:
        runpy.run_module(target, init_globals=init, run_name="__main__", alter_sys=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="iii-live",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"iii-live {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="{serve,demo}")
    serve = commands.add_parser("serve", help="run an engine until interrupted")
    serve.add_argument("--config", help="iii config file (reads its iii-stream block)")
    serve.add_argument(
        "--dashboard",
        metavar="APP",
        action="append",
        default=[],
        help="a Python file or module to run with `engine` defined, that publishes dashboards "
        "(engine.publish(...)); may be repeated",
    )
    demo = commands.add_parser(
        "demo", help="run an engine with a simulated live feed and a page that shows it"
    )
    demo.add_argument("--rate", type=float, default=20.0, help="feed ticks per second (default 20)")
    demo.set_defaults(config=None, dashboard=[])
    for command, log_level in ((serve, "INFO"), (demo, "WARNING")):
        command.add_argument("--host", metavar="HOST", help="interface to bind (default 127.0.0.1)")
        command.add_argument("--port", type=int, help="stream port (default 3112; 0 picks a free one)")
        command.add_argument(
            "--engine-port",
            type=engine_port,
            metavar="PORT",
            help="port for iii SDK workers (default 49134, or a free one with --port 0; "
            "0 picks a free one; 'off' turns it off)",
        )
        command.add_argument(
            "--log-level",
            default=log_level,
            metavar="LEVEL",
            help=f"DEBUG, INFO, WARNING... (default {log_level})",
        )
    return top


def engine_port(value: str) -> str:
    """A port number or ``off``; checked here so a typo is a usage error, not a traceback."""
    if value == "off" or value.isdigit():
        return value
    raise argparse.ArgumentTypeError(f"expected a port number or 'off', got {value!r}")


def as_flags(message: str) -> str:
    """Speak of ``--port 0`` where the engine's message speaks of ``port=0``."""
    return re.sub(r"\b(engine_port|port)=", lambda m: PORT_KEYWORDS[m.group(1)] + " ", message)


if __name__ == "__main__":
    sys.exit(main())
