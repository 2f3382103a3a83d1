"""A spec compiled into what reads items: computed columns, the filter, group keys, aggregate
inputs, sort values and the rows' shape.

Fields are resolved once here: a name is a computed column (if one of that name comes
before) or a path into the item. Every read of an item goes through these closures, so a
view costs what its spec asks for and nothing per item it does not touch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aggregates import NUMERIC, READERS, FieldState, Needs
from .budget import TermBudget
from .errors import ViewSpecError
from .expressions import Evaluate, Resolve, compile_expression
from .fields import MISSING, is_number, json_number, path_getter, put_path
from .filters import Predicate, compile_where
from .ordering import Ordering

if TYPE_CHECKING:
    from .spec import ViewSpec

log = logging.getLogger("iii_live.views")


@dataclass(frozen=True)
class Aggregate:
    name: str
    input: int
    """Index of its input field in ``ViewPlan.inputs``."""
    function: str

    @property
    def read(self) -> Callable[[FieldState], Any]:
        return READERS[self.function]


@dataclass(frozen=True)
class SortSource:
    """Where a grouped view's sort value comes from: a group-by field or an aggregate."""

    key_part: int | None = None
    aggregate: Aggregate | None = None


@dataclass
class ViewPlan:
    grouped: bool
    computed: tuple[tuple[str, Evaluate], ...]
    predicate: Predicate | None
    where_conditions: list[Any] | None
    projection: tuple[tuple[str, Evaluate], ...] | None
    """Ungrouped rows: ``(output name, reader)``; None keeps the item as it is."""
    group_fields: tuple[str, ...]
    group_readers: tuple[Evaluate, ...]
    inputs: tuple[Evaluate, ...]
    input_needs: tuple[Needs, ...]
    aggregates: tuple[Aggregate, ...]
    ordering: Ordering | None
    sort_readers: tuple[Evaluate, ...]
    """Ungrouped views: the sort fields' readers (empty when unsorted)."""
    sort_sources: tuple[SortSource, ...]
    """Grouped views: where each sort field's value comes from."""
    limit: int | None
    has_callables: bool
    """Some computed column is a Python callable (its values may not be plain JSON)."""
    by_arrival: bool
    """Ungrouped, limited, unsorted: the first N items of the group (the last N when descending)."""
    needs_arrivals: bool
    """Rows or their order depend on the items' order in the group (``first``, ``last``, and
    ungrouped views that are not sorted, which keep the group's order as ``df[mask]`` does)."""
    references: dict[str, str]
    """Every item field the view reads, with the first part of the spec that reads it."""
    numeric_inputs: dict[str, tuple[str, str]]
    """Item fields that numeric aggregates read: ``field -> (part, function)``."""

    def compute(self, item: Any) -> dict[str, Any] | None:
        """The computed columns of one item (None when the view has none)."""
        if not self.computed:
            return None
        values: dict[str, Any] = {}
        for name, evaluate in self.computed:
            values[name] = evaluate(item, values)
        return values

    def row(self, item: Any, computed: dict[str, Any] | None) -> Any:
        """The row an (ungrouped) item is published as."""
        if self.projection is None:
            return item
        row: dict[str, Any] = {}
        for name, read in self.projection:
            value = read(item, computed)
            if value is not MISSING:
                put_path(row, name, value)
        return row

    def check_data(self, stream: str, group: str, items: dict[str, Any]) -> None:
        """Refuse a spec that names fields no item has, or sums what is never a number."""
        if not items:
            return
        values = items.values()
        for name, part in self.references.items():
            get = path_getter(name)
            if not any(get(item, None) is not MISSING for item in values):
                raise ViewSpecError(
                    part,
                    f"unknown field {name!r}: no item of {stream}/{group} has it "
                    f"(fields: {', '.join(_field_names(values)) or 'none'})",
                )
        for name, (part, function) in self.numeric_inputs.items():
            get = path_getter(name)
            example = None
            for item in values:
                value = get(item, None)
                if is_number(value):
                    break
                if value is not MISSING and value is not None and example is None:
                    example = value
            else:
                if example is not None:
                    raise ViewSpecError(
                        part, f"`{function}` needs numbers, but {name!r} holds {_json_type(example)}"
                    )


def compile_plan(spec: ViewSpec) -> ViewPlan:
    return _PlanCompiler(spec).compile()


class _PlanCompiler:
    def __init__(self, spec: ViewSpec) -> None:
        self.spec = spec
        self.computed_names: set[str] = set()
        self.references: dict[str, str] = {}
        self.has_callables = False
        self.budget = TermBudget()

    def resolver(self, part: str) -> Resolve:
        visible = frozenset(self.computed_names)

        def resolve(name: str) -> Evaluate:
            if name in visible:
                return lambda item, computed: computed.get(name, MISSING)
            self.references.setdefault(name, part)
            return path_getter(name)

        return resolve

    def compile(self) -> ViewPlan:
        spec = self.spec
        computed, plain = self.columns()
        where = compile_where(spec.where, self.resolver("where"), self.budget)
        for part, names in (("group_by", spec.group_by), ("agg", spec.agg), ("sort_by", spec.sort_by)):
            for i, name in enumerate(names or ()):
                self.budget.spend(f"{part}.{name}" if part == "agg" else f"{part}[{i}]")
        if spec.grouped:
            return self.grouped(computed, where)
        projection: list[tuple[str, Evaluate]] | None = None
        if spec.columns is not None:
            projection = [(name, self.resolver(f"columns.{name}")(name)) for name in plain]
        sort_readers = tuple(
            self.resolver(f"sort_by[{i}]")(name) for i, name in enumerate(spec.sort_by or ())
        )
        if projection is not None:
            shown = {name for name, _ in projection}
            for name, read in zip(spec.sort_by or (), sort_readers, strict=True):
                if name not in shown:  # a sorted row always carries its sort fields
                    projection.append((name, read))
        return ViewPlan(
            grouped=False,
            computed=computed,
            predicate=where.predicate if where else None,
            where_conditions=where.conditions if where else None,
            projection=tuple(projection) if projection is not None else None,
            group_fields=(),
            group_readers=(),
            inputs=(),
            input_needs=(),
            aggregates=(),
            ordering=self.ordering(),
            sort_readers=sort_readers,
            sort_sources=(),
            limit=spec.limit,
            has_callables=self.has_callables,
            by_arrival=spec.limit is not None and not spec.sort_by,
            needs_arrivals=not spec.sort_by,
            references=self.references,
            numeric_inputs={},
        )

    def columns(self) -> tuple[tuple[tuple[str, Evaluate], ...], list[str]]:
        """Computed columns in order, and the names of every output column."""
        computed: list[tuple[str, Evaluate]] = []
        names: list[str] = []
        for column in self.spec.columns or ():
            if isinstance(column, str):
                if self.spec.grouped:
                    raise ViewSpecError(
                        f"columns.{column}",
                        "a grouped view's rows hold its group-by fields and aggregates; "
                        "list only computed columns ({name: expression}) here",
                    )
                self.budget.spend(f"columns.{column}")
                names.append(column)
                continue
            ((name, source),) = column.items()
            part = f"columns.{name}"
            if callable(source):
                self.budget.spend(part)
                evaluate = _guarded(name, source)
                self.has_callables = True
            else:
                expression = compile_expression(source, part, self.resolver(part))
                self.budget.spend(part, expression.terms)
                evaluate = expression.evaluate
            computed.append((name, evaluate))
            self.computed_names.add(name)
            names.append(name)
        return tuple(computed), names

    def ordering(self) -> Ordering | None:
        spec = self.spec
        if not spec.sort_by:
            return Ordering([spec.descending is True]) if spec.limit is not None else None
        directions = (
            spec.descending if isinstance(spec.descending, list) else [spec.descending] * len(spec.sort_by)
        )
        return Ordering(directions)

    def grouped(self, computed: tuple[tuple[str, Evaluate], ...], where: Any) -> ViewPlan:
        spec = self.spec
        group_fields = tuple(spec.group_by or ())
        group_readers = tuple(self.resolver(f"group_by[{i}]")(name) for i, name in enumerate(group_fields))
        input_index: dict[str, int] = {}
        readers: list[Evaluate] = []
        functions: list[set[str]] = []
        aggregates = []
        numeric_inputs: dict[str, tuple[str, str]] = {}
        for name, (field_name, function) in (spec.agg or {}).items():
            part = f"agg.{name}"
            if name in group_fields:
                raise ViewSpecError(part, f"{name!r} is also a group-by field; name the aggregate otherwise")
            if field_name not in input_index:
                input_index[field_name] = len(readers)
                readers.append(self.resolver(part)(field_name))
                functions.append(set())
            functions[input_index[field_name]].add(function)
            aggregates.append(Aggregate(name, input_index[field_name], function))
            if function in NUMERIC and field_name not in self.computed_names:
                numeric_inputs.setdefault(field_name, (part, function))
        by_name = {aggregate.name: aggregate for aggregate in aggregates}
        sources = []
        ordering = self.ordering()
        if not spec.sort_by and spec.limit is not None and group_fields:  # the first N keys, as pandas
            sources = [SortSource(key_part=i) for i in range(len(group_fields))]
            ordering = Ordering([spec.descending is True] * len(group_fields))
        for i, name in enumerate(spec.sort_by or ()):
            if name in group_fields:
                sources.append(SortSource(key_part=group_fields.index(name)))
            elif name in by_name:
                sources.append(SortSource(aggregate=by_name[name]))
            else:
                raise ViewSpecError(
                    f"sort_by[{i}]", f"{name!r} is neither a group-by field nor an aggregate of this view"
                )
        return ViewPlan(
            grouped=True,
            computed=computed,
            predicate=where.predicate if where else None,
            where_conditions=where.conditions if where else None,
            projection=None,
            group_fields=group_fields,
            group_readers=group_readers,
            inputs=tuple(readers),
            input_needs=tuple(Needs.of(f) for f in functions),
            aggregates=tuple(aggregates),
            ordering=ordering if sources else None,
            sort_readers=(),
            sort_sources=tuple(sources),
            limit=spec.limit,
            has_callables=self.has_callables,
            by_arrival=False,
            needs_arrivals=any(aggregate.function in ("first", "last") for aggregate in aggregates),
            references=self.references,
            numeric_inputs=numeric_inputs,
        )


def _guarded(name: str, function: Callable[[Any], Any]) -> Evaluate:
    """A Python computed column: its failures give null (logged once), never a broken view."""
    failed = False

    def evaluate(item: Any, computed: Any) -> Any:
        nonlocal failed
        try:
            value = function(item)
            if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
                value = value.item()  # numpy's scalars, as the values they hold
        except Exception:
            if not failed:
                failed = True
                log.exception("computed column %r failed; its value is null where it fails", name)
            return None
        return json_number(value)  # as stored: JSON numbers only

    return evaluate


def _field_names(items: Iterable[Any], sample: int = 50, most: int = 20) -> list[str]:
    names: dict[str, None] = {}
    for i, item in enumerate(items):
        if i >= sample:
            break
        if isinstance(item, dict):
            names.update(dict.fromkeys(item))
    return sorted(names)[:most]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "booleans"
    if isinstance(value, str):
        return f"text (such as {value[:20]!r})"
    if isinstance(value, list):
        return "arrays"
    if isinstance(value, dict):
        return "objects"
    return type(value).__name__
