"""Latency percentiles, exact within one process and mergeable across several.

A histogram counts latencies in buckets 1% wide (bucket ``b`` holds about ``1.01**b`` µs), so
the client processes that share one run's subscribers can be merged into one p50/p99
within 1%.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

GROWTH = math.log(1.01)


def percentile(sorted_ns: list[int], p: float) -> float | None:
    """The ``p`` quantile of sorted nanoseconds, in ms."""
    if not sorted_ns:
        return None
    return sorted_ns[min(len(sorted_ns) - 1, int(p * len(sorted_ns)))] / 1e6


def histogram(latencies_ns: Iterable[int]) -> dict[str, int]:
    """``{bucket: count}`` (keys are strings, for JSON)."""
    counts = Counter(int(math.log(max(ns, 1000) / 1000) / GROWTH) for ns in latencies_ns)
    return {str(bucket): count for bucket, count in counts.items()}


def merged_histogram(histograms: Iterable[dict[str, int]]) -> dict[str, int]:
    """One histogram of the latencies behind several."""
    total: Counter[str] = Counter()
    for h in histograms:
        total.update(h)
    return dict(total)


def merged_percentile(histograms: Iterable[dict[str, int]], p: float) -> float | None:
    """The ``p`` quantile, in ms, of the latencies behind several histograms (the bucket's middle)."""
    total = Counter({int(bucket): count for bucket, count in merged_histogram(histograms).items()})
    n = sum(total.values())
    if not n:
        return None
    rank = min(n - 1, int(p * n))
    seen = 0
    for bucket in sorted(total):
        seen += total[bucket]
        if seen > rank:
            return 1.01 ** (bucket + 0.5) / 1000
    return None
