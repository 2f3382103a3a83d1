"""A simulated market feed, for ``iii-live demo`` and the example notebooks.

It writes through the public API only: ``stream::set`` for quotes (one item per symbol,
updated in place), one item per point for the index chart (older points deleted, so the
group stays bounded), and ``stream::update`` counters. Each index point carries the index
(the mean of the live prices) and its moving average over the last ``AVERAGE_TICKS`` ticks.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Engine

SYMBOLS = (
    "AAPL",
    "AMZN",
    "ASML",
    "BABA",
    "GOOG",
    "IBM",
    "INTC",
    "META",
    "MSFT",
    "NFLX",
    "NVDA",
    "ORCL",
    "SAP",
    "TSLA",
)
KEEP_POINTS = 600
AVERAGE_TICKS = 40


class MarketFeed:
    """Writes ``rate`` ticks per second to stream ``market`` until ``stop()``."""

    def __init__(self, engine: Engine, rate: float = 20.0, seed: int | None = None) -> None:
        self.stream = engine.stream("market")
        self.rate = rate
        self.random = random.Random(seed)
        self.prices = {symbol: self.random.uniform(50, 500) for symbol in SYMBOLS}
        self.opening = dict(self.prices)
        self.recent_index: deque[float] = deque(maxlen=AVERAGE_TICKS)
        self.ticks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for symbol in self.random.sample(SYMBOLS, 3):
            price = self.prices[symbol] = max(1.0, self.prices[symbol] * (1 + self.random.gauss(0, 0.002)))
            self.stream.set(
                "quotes",
                symbol,
                {
                    "symbol": symbol,
                    "price": round(price, 2),
                    "change": round(100 * (price / self.opening[symbol] - 1), 2),
                    "volume": self.ticks * 100 + self.random.randint(0, 99),
                    "updated": now,
                },
            )
        index = sum(self.prices.values()) / len(self.prices)
        self.recent_index.append(index)
        self.stream.set(
            "index",
            f"{self.ticks:09d}",
            {
                "t": now,
                "index": round(index, 3),
                "average": round(sum(self.recent_index) / len(self.recent_index), 3),
            },
        )
        if self.ticks >= KEEP_POINTS:
            self.stream.delete("index", f"{self.ticks - KEEP_POINTS:09d}")
        self.stream.update("stats", "feed", [{"type": "increment", "path": "ticks", "by": 1}])
        self.ticks += 1

    def start(self) -> MarketFeed:
        self._thread = threading.Thread(target=self._run, name="iii-live-demo-feed", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(1 / self.rate):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
