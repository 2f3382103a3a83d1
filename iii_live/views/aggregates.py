"""Aggregates kept current one item at a time: pandas' named aggregation, incrementally.

``{"total": ("qty", "sum")}`` as in ``DataFrame.groupby(...).agg(total=("qty", "sum"))``.
Each group keeps, per input field, only what its aggregates need, and every add or removal
of an item costs O(log n) at most: counts and sums in O(1), ``min``/``max`` from a pair of
heaps (``extremes``), ``first``/``last`` from the items' arrival order, ``count_distinct``
from a count per value. Nothing is rescanned when an item changes or leaves.

Nulls are skipped as pandas skips NaN: ``count`` counts the non-null values; ``sum``,
``mean``, ``min`` and ``max`` take numbers, and a value of another type counts as null.
``first`` and ``last`` follow the items' order in the base group (``arrivals``: an update
keeps an item's place, as the kv store keeps it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sortedcontainers import SortedDict  # type: ignore[import-untyped]

from .errors import ViewSpecError
from .extremes import Extremes
from .fields import MISSING, hashable, json_number

FUNCTIONS = ("count", "sum", "mean", "min", "max", "first", "last", "count_distinct")
ALIASES = {"nunique": "count_distinct", "size": "count", "avg": "mean"}
NUMERIC = frozenset({"sum", "mean", "min", "max"})


def parse_agg(raw: Any) -> dict[str, list[str]]:
    """``{name: (field, function)}`` normalized to ``{name: [field, function]}``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ViewSpecError("agg", f'expected {{"name": ("field", "sum"), ...}}, not {raw!r}')
    parsed = {}
    for name, pair in raw.items():
        part = f"agg.{name}"
        if not isinstance(name, str) or not name:
            raise ViewSpecError("agg", f"an aggregate name must be a non-empty string, not {name!r}")
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise ViewSpecError(part, f'expected ("field", "function"), not {pair!r}')
        field, function = pair
        if not isinstance(field, str) or not field:
            raise ViewSpecError(part, f"the field must be a non-empty string, not {field!r}")
        function = ALIASES.get(function, function) if isinstance(function, str) else function
        if function not in FUNCTIONS:
            raise ViewSpecError(part, f"unknown aggregate {function!r} (use one of {', '.join(FUNCTIONS)})")
        parsed[name] = [field, function]
    return parsed


@dataclass(frozen=True)
class Needs:
    """What the aggregates over one input field require it to keep."""

    sum: bool = False
    sorted: bool = False
    order: bool = False
    distinct: bool = False

    @classmethod
    def of(cls, functions: set[str]) -> Needs:
        return cls(
            sum=bool(functions & {"sum", "mean"}),
            sorted=bool(functions & {"min", "max"}),
            order=bool(functions & {"first", "last"}),
            distinct="count_distinct" in functions,
        )


class FieldState:
    """One input field of one group: the running state behind its aggregates."""

    __slots__ = (
        "sums",
        "count",
        "numbers",
        "int_sum",
        "float_sum",
        "compensation",
        "floats",
        "values",
        "order",
        "distinct",
    )

    def __init__(self, needs: Needs) -> None:
        self.sums = needs.sum
        self.count = 0
        self.numbers = 0
        self.int_sum = 0
        self.float_sum = 0.0
        self.compensation = 0.0
        self.floats = 0
        self.values: Extremes | None = Extremes() if needs.sorted else None
        self.order: SortedDict | None = SortedDict() if needs.order else None
        self.distinct: dict[Any, int] | None = {} if needs.distinct else None

    def add(self, value: Any, seq: int) -> None:
        if value is None or value is MISSING:
            return
        self.count += 1
        if isinstance(value, (int, float)) and type(value) is not bool:
            self.numbers += 1
            if self.sums:
                if type(value) is int:
                    self.int_sum += value
                else:
                    self.floats += 1
                    self._accumulate(float(value))
            if self.values is not None:
                self.values.add(value)
        if self.order is not None:
            self.order[seq] = value
        if self.distinct is not None:
            key = hashable(value)
            self.distinct[key] = self.distinct.get(key, 0) + 1

    def remove(self, value: Any, seq: int) -> None:
        if value is None or value is MISSING:
            return
        self.count -= 1
        if isinstance(value, (int, float)) and type(value) is not bool:
            self.numbers -= 1
            if self.sums:
                if type(value) is int:
                    self.int_sum -= value
                else:
                    self.floats -= 1
                    if self.floats:
                        self._accumulate(-float(value))
                    else:  # no float left: drop the rounding residue with them
                        self.float_sum = self.compensation = 0.0
            if self.values is not None:
                self.values.remove(value)
        if self.order is not None:
            del self.order[seq]
        if self.distinct is not None:
            key = hashable(value)
            left = self.distinct[key] - 1
            if left:
                self.distinct[key] = left
            else:
                del self.distinct[key]

    def move(self, before: Any, after: Any, seq: int) -> None:
        """One item's value changed: ``remove(before)`` then ``add(after)``, with a short way
        for a number replaced by a number of the same type (a counter, a price)."""
        kind = type(before)
        if (
            kind is type(after)
            and (kind is int or kind is float)
            and self.order is None
            and self.distinct is None
        ):
            if self.sums:
                if kind is int:
                    self.int_sum += after - before
                else:
                    self._accumulate(-before)
                    self._accumulate(after)
            if self.values is not None:
                self.values.replace(before, after)
            return
        self.remove(before, seq)
        self.add(after, seq)

    def _accumulate(self, value: float) -> None:
        """Neumaier's compensated sum, so adds and removals do not drift."""
        total = self.float_sum + value
        if abs(self.float_sum) >= abs(value):
            self.compensation += (self.float_sum - total) + value
        else:
            self.compensation += (value - total) + self.float_sum
        self.float_sum = total

    def total(self) -> Any:
        """The sum, as JSON holds it: an integer beyond 64 bits as a float, a float past the
        largest one as None (stored, it is null)."""
        if not self.floats:
            return json_number(self.int_sum)
        try:
            return json_number(self.int_sum + (self.float_sum + self.compensation))
        except OverflowError:  # an integer sum too large for a float
            return None

    def mean(self) -> Any:
        total = self.total()
        return total / self.numbers if self.numbers and total is not None else None

    def lowest(self) -> Any:
        return self.values.min() if self.values is not None else None

    def highest(self) -> Any:
        return self.values.max() if self.values is not None else None

    def first(self) -> Any:
        return self.order.peekitem(0)[1] if self.order else None

    def last(self) -> Any:
        return self.order.peekitem(-1)[1] if self.order else None

    def distinct_count(self) -> int:
        return len(self.distinct) if self.distinct is not None else 0


READERS: dict[str, Callable[[FieldState], Any]] = {  # pandas' answers for all-null groups
    "count": lambda state: state.count,
    "sum": FieldState.total,
    "mean": FieldState.mean,
    "min": FieldState.lowest,
    "max": FieldState.highest,
    "first": FieldState.first,
    "last": FieldState.last,
    "count_distinct": FieldState.distinct_count,
}
"""How each aggregate reads a field's state."""
