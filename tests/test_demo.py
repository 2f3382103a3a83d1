"""The demo feed writes what its page and notebook plot: a live index and its moving average."""

from __future__ import annotations

from statistics import fmean

from iii_live.demo import AVERAGE_TICKS, KEEP_POINTS, SYMBOLS, MarketFeed


def test_average_follows_the_live_index(engine):
    feed = MarketFeed(engine, seed=7)
    for _ in range(3 * AVERAGE_TICKS):
        feed.tick()
    points = engine.stream("market").list("index")
    indexes = [p["index"] for p in points]
    for n, point in enumerate(points):
        recent = indexes[max(0, n + 1 - AVERAGE_TICKS) : n + 1]
        assert abs(point["average"] - fmean(recent)) < 0.002
    averages = {p["average"] for p in points}
    assert len(averages) > AVERAGE_TICKS, "the average line moves with the prices"


def test_quotes_index_and_counters_stay_bounded(engine):
    feed = MarketFeed(engine, seed=1)
    for _ in range(KEEP_POINTS + 5):
        feed.tick()
    market = engine.stream("market")
    assert len(market.list("index")) == KEEP_POINTS
    assert {q["symbol"] for q in market.list("quotes")} == set(SYMBOLS)
    assert market.get("stats", "feed") == {"ticks": KEEP_POINTS + 5}
