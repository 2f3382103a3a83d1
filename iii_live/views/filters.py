"""``where``: which items a view keeps.

Accepted forms, all normalized to a list of conditions that must all hold:

- ``{"region": "eu", "user.tier": 2}``: equality, one condition per entry;
- ``[("qty", ">", 10), ("region", "in", ["eu", "us"])]``: ``(field, op, value)`` with ``op``
  one of ``== != < <= > >= in contains between`` (``between`` takes ``[low, high]``,
  inclusive; ``contains`` finds a substring in text or a member in a list);
- ``{"or": [...]}``, ``{"and": [...]}``, ``{"not": condition}`` combine conditions;
- a string is an expression (``"qty * price > 1000"``, see ``expressions``).

A missing field, a null, or a value that cannot be compared with the condition's (text
against a number) does not match; ``!=`` matches them, as in pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import codec
from .budget import MAX_DEPTH, TermBudget
from .errors import ViewSpecError
from .expressions import Resolve, compile_expression
from .fields import MISSING, is_number

Predicate = Callable[[Any, Any], bool]
"""``predicate(item, computed)``: True when the item is kept."""

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "contains", "between")
COMBINATIONS = ("and", "or", "not")


@dataclass(frozen=True)
class Where:
    conditions: list[Any]
    """The normalized, JSON-ready form (what a spec's ``to_dict`` holds)."""
    fields: frozenset[str]
    predicate: Predicate


def compile_where(raw: Any, resolve: Resolve, budget: TermBudget | None = None) -> Where | None:
    """Validate and compile a ``where``; None when there is none. Its conditions and
    expression terms are spent from ``budget`` (a spec's)."""
    if raw is None or raw == [] or raw == {}:
        return None
    compiler = _WhereCompiler(resolve, budget or TermBudget())
    if isinstance(raw, (list, tuple)) and not _is_condition(raw):
        parts = [(f"where[{i}]", node) for i, node in enumerate(raw)]
    elif isinstance(raw, dict) and not _is_combination(raw):
        parts = [(f"where.{field}", [field, "==", value]) for field, value in raw.items()]
    else:
        parts = [("where", raw)]
    compiled = [compiler.node(part, node) for part, node in parts]
    conditions = [normalized for normalized, _ in compiled]
    tests = [test for _, test in compiled]
    if len(tests) == 1:
        predicate = tests[0]
    else:

        def predicate(item: Any, computed: Any) -> bool:
            for test in tests:
                if not test(item, computed):
                    return False
            return True

    return Where(conditions, frozenset(compiler.fields), predicate)


def _is_condition(node: Any) -> bool:
    return (
        isinstance(node, (list, tuple))
        and len(node) == 3
        and isinstance(node[0], str)
        and isinstance(node[1], str)
        and node[1] in OPERATORS
    )


def _is_combination(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in COMBINATIONS


class _WhereCompiler:
    def __init__(self, resolve: Resolve, budget: TermBudget) -> None:
        self.resolve = resolve
        self.budget = budget
        self.fields: set[str] = set()

    def node(self, part: str, node: Any, depth: int = 0) -> tuple[Any, Predicate]:
        if isinstance(node, str):
            expression = compile_expression(node, part, self.resolve)
            self.budget.spend(part, expression.terms)
            self.fields |= expression.fields
            evaluate = expression.evaluate
            return node, lambda item, computed: bool(evaluate(item, computed))
        self.budget.spend(part)
        if _is_combination(node):
            if depth >= MAX_DEPTH:
                raise ViewSpecError(part, f"conditions may nest at most {MAX_DEPTH} deep")
            return self.combination(part, node, depth + 1)
        if isinstance(node, dict):
            if not node:
                raise ViewSpecError(part, "an empty condition")
            equalities = [[field, "==", value] for field, value in node.items()]
            return self.combination(part, {"and": equalities}, depth + 1)
        if isinstance(node, (list, tuple)) and len(node) == 3:
            return self.condition(part, node)
        raise ViewSpecError(
            part,
            f"expected (field, op, value), {{field: value}}, {{'or': [...]}} or an expression, not {node!r}",
        )

    def combination(self, part: str, node: dict[str, Any], depth: int) -> tuple[Any, Predicate]:
        ((kind, operand),) = node.items()
        inner = f"{part}.{kind}"
        if kind == "not":
            normalized, negated = self.node(inner, operand, depth)
            return {"not": normalized}, lambda item, computed: not negated(item, computed)
        if not isinstance(operand, (list, tuple)) or not operand:
            raise ViewSpecError(inner, f"`{kind}` takes a non-empty list of conditions")
        compiled = [self.node(f"{inner}[{i}]", child, depth) for i, child in enumerate(operand)]
        tests = [test for _, test in compiled]
        combine = all if kind == "and" else any

        def combined(item: Any, computed: Any) -> bool:
            return combine(t(item, computed) for t in tests)

        return {kind: [normalized for normalized, _ in compiled]}, combined

    def condition(self, part: str, node: Any) -> tuple[Any, Predicate]:
        field, op, value = node
        if not isinstance(field, str) or not field:
            raise ViewSpecError(part, f"the field must be a non-empty string, not {field!r}")
        if op not in OPERATORS:
            raise ViewSpecError(part, f"unknown operator {op!r} (use one of {' '.join(OPERATORS)})")
        try:
            value = codec.normalize(value)[0]
        except codec.EncodeError as exc:
            raise ViewSpecError(part, f"the value is not JSON: {exc}") from None
        read = self.resolve(field)
        self.fields.add(field)
        check = _check(part, op, value)
        return [field, op, value], lambda item, computed: check(read(item, computed))


def _check(part: str, op: str, value: Any) -> Callable[[Any], bool]:
    if op == "==":
        return lambda v: (None if v is MISSING else v) == value
    if op == "!=":
        return lambda v: (None if v is MISSING else v) != value
    if op in ("<", "<=", ">", ">="):
        if not (is_number(value) or isinstance(value, str)):
            raise ViewSpecError(part, f"`{op}` compares with a number or a text, not {value!r}")
        return _ordered(op, value)
    if op == "in":
        if not isinstance(value, list):
            raise ViewSpecError(part, f"`in` takes a list of values, not {value!r}")
        return _member_of(value)
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise ViewSpecError(part, f"`between` takes [low, high], not {value!r}")
        low, high = value
        if not (is_number(low) and is_number(high)) and not (isinstance(low, str) and isinstance(high, str)):
            raise ViewSpecError(part, f"`between` takes two numbers or two texts, not {value!r}")
        above, below = _ordered(">=", low), _ordered("<=", high)
        return lambda v: above(v) and below(v)
    return _contains(value)


def _ordered(op: str, bound: Any) -> Callable[[Any], bool]:
    numeric = is_number(bound)
    compare = {
        "<": lambda v: v < bound,
        "<=": lambda v: v <= bound,
        ">": lambda v: v > bound,
        ">=": lambda v: v >= bound,
    }[op]

    def test(v: Any) -> bool:
        if is_number(v) if numeric else type(v) is str:
            return compare(v)
        return False

    return test


def _member_of(values: list[Any]) -> Callable[[Any], bool]:
    hashable = {v for v in values if not isinstance(v, (dict, list))}
    others = [v for v in values if isinstance(v, (dict, list))]

    def test(v: Any) -> bool:
        v = None if v is MISSING else v
        if isinstance(v, (dict, list)):
            return v in others
        return v in hashable

    return test


def _contains(value: Any) -> Callable[[Any], bool]:
    def test(v: Any) -> bool:
        if type(v) is str:
            return type(value) is str and value in v
        if type(v) is list:
            return value in v
        return False

    return test
