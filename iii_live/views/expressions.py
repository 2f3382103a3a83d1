"""A small, safe expression language over an item's fields (computed columns, filters).

Text is parsed with Python's grammar (``ast.parse``) and never run: only the nodes below are
accepted, each compiled into a closure. So ``"ask - bid"``, ``"price * qty"``,
``"region == 'eu' and qty >= 10"`` or ``"upper(name) if active else null"`` work, while
attribute access beyond dotted field names, subscripts, lambdas, comprehensions and calls
to anything but the functions listed here are refused when the view is made.

- fields: ``price``, ``quote.bid`` (nested), ``field("odd name")`` (any name);
- literals: numbers, strings, ``true``/``false``/``null`` (or Python's spellings), lists;
- ``+ - * / // %``, unary ``-``/``+``, ``== != < <= > >=``, ``in``, ``not in``,
  ``and``, ``or``, ``not``, ``a if condition else b``;
- functions: ``abs round min max len lower upper str int float coalesce startswith endswith``.

Nulls propagate: an operation on a missing field, a null, or values of the wrong type gives
null (a filter then does not match), and so does a division by zero. Nothing an item holds
can make an expression raise.

Values stay the size of JSON's, so that no expression, however written, and no chain of
computed columns feeding each other makes one item's evaluation slow or large: integers are
64-bit (a result beyond becomes a float, and null beyond a float's range), texts built
with ``+`` are at most ``MAX_TEXT`` characters (null beyond), and a list literal holds
numbers, texts, booleans and nulls (it is null if an element is a list or an object).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ViewSpecError
from .fields import MISSING, is_number, json_number

MAX_LENGTH = 1_000
MAX_NODES = 200
MAX_TEXT = 65_536
"""Longest text ``+`` builds (a longer result is null)."""
MAX_ROUND_DIGITS = 400
"""Beyond this many digits either side of the point, ``round`` gives the same result."""

Evaluate = Callable[[Any, Any], Any]
"""``evaluate(item, computed)``: the value of an expression (or field) for one item."""
Resolve = Callable[[str], Evaluate]
"""Turns a field name into what reads it (an item field, or a computed column)."""

_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


@dataclass(frozen=True)
class Expression:
    text: str
    fields: frozenset[str]
    """Every field name the expression reads."""
    evaluate: Evaluate
    terms: int
    """Its size in syntax nodes: what evaluating it costs, about."""


def compile_expression(text: Any, part: str, resolve: Resolve) -> Expression:
    """Parse and compile ``text``; a ``ViewSpecError`` naming ``part`` if it is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise ViewSpecError(part, f"an expression must be a non-empty string, not {text!r}")
    if len(text) > MAX_LENGTH:
        raise ViewSpecError(part, f"an expression may be at most {MAX_LENGTH} characters long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        raise ViewSpecError(part, f"invalid expression {text!r}: {detail}") from None
    terms = sum(1 for _ in ast.walk(tree))
    if terms > MAX_NODES:
        raise ViewSpecError(part, f"expression {text!r} is too long (at most {MAX_NODES} terms)")
    compiler = _Compiler(text, part, resolve)
    evaluate = compiler.compile(tree.body)
    return Expression(text, frozenset(compiler.fields), evaluate, terms)


def _null(value: Any) -> Any:
    return None if value is MISSING else value


def _numbers(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if is_number(a) and is_number(b):
            try:
                return json_number(fn(a, b))
            except (ArithmeticError, ValueError):
                return None
        return None

    return apply


def _add(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return json_number(a + b)
    if type(a) is str and type(b) is str and len(a) + len(b) <= MAX_TEXT:
        return a + b
    return None


def _ordered(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def compare(a: Any, b: Any) -> Any:
        if (is_number(a) and is_number(b)) or (type(a) is str and type(b) is str):
            return fn(a, b)
        return None

    return compare


def _contains(container: Any, member: Any) -> Any:
    if type(container) is str:
        return member in container if type(member) is str else None
    if type(container) in (list, dict):
        try:
            return member in container
        except TypeError:  # an unhashable member of a dict
            return None
    return None


def _not_contains(container: Any, member: Any) -> Any:
    found = _contains(container, member)
    return None if found is None else not found


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _numbers(operator.sub),
    ast.Mult: _numbers(operator.mul),
    ast.Div: _numbers(operator.truediv),
    ast.FloorDiv: _numbers(operator.floordiv),
    ast.Mod: _numbers(operator.mod),
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: _ordered(operator.lt),
    ast.LtE: _ordered(operator.le),
    ast.Gt: _ordered(operator.gt),
    ast.GtE: _ordered(operator.ge),
    ast.In: lambda a, b: _contains(b, a),
    ast.NotIn: lambda a, b: _not_contains(b, a),
}


def _text(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is bool:
        return "true" if value else "false"
    return value if type(value) is str else str(value)


def _to_number(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if type(value) in (str, int, float):
            try:
                return json_number(kind(value))
            except (ValueError, OverflowError):
                return None
        return None

    return convert


def _string_method(name: str) -> Callable[..., Any]:
    def call(value: Any, *args: Any) -> Any:
        if type(value) is not str or not all(type(arg) is str for arg in args):
            return None
        return getattr(value, name)(*args)

    return call


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def call(*values: Any) -> Any:
        present = [v for v in values if v is not None]
        if not present or not (all(is_number(v) for v in present) or all(type(v) is str for v in present)):
            return None
        return pick(present)

    return call


def _round(value: Any, digits: Any = None) -> Any:
    value = json_number(value)
    if not is_number(value) or (digits is not None and type(digits) is not int):
        return None
    try:
        if digits is None:
            return json_number(round(value))
        # round(n, -d) computes 10 ** d: past the digits a JSON number has, every d gives one result
        return json_number(round(value, max(-MAX_ROUND_DIGITS, min(digits, MAX_ROUND_DIGITS))))
    except (OverflowError, ValueError):
        return None


FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "abs": (lambda v: json_number(abs(v)) if is_number(v) else None, 1, 1),
    "round": (_round, 1, 2),
    "min": (_extreme(min), 1, 32),
    "max": (_extreme(max), 1, 32),
    "len": (lambda v: len(v) if type(v) in (str, list, dict) else None, 1, 1),
    "lower": (_string_method("lower"), 1, 1),
    "upper": (_string_method("upper"), 1, 1),
    "startswith": (_string_method("startswith"), 2, 2),
    "endswith": (_string_method("endswith"), 2, 2),
    "str": (_text, 1, 1),
    "int": (_to_number(int), 1, 1),
    "float": (_to_number(float), 1, 1),
    "coalesce": (lambda *values: next((v for v in values if v is not None), None), 1, 32),
}


class _Compiler:
    def __init__(self, text: str, part: str, resolve: Resolve) -> None:
        self.text = text
        self.part = part
        self.resolve = resolve
        self.fields: set[str] = set()

    def fail(self, what: str) -> ViewSpecError:
        return ViewSpecError(self.part, f"invalid expression {self.text!r}: {what}")

    def field(self, name: str) -> Evaluate:
        self.fields.add(name)
        read = self.resolve(name)
        return lambda item, computed: _null(read(item, computed))

    def compile(self, node: ast.AST) -> Evaluate:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.fail(f"{type(node).__name__} is not allowed")
        return method(node)

    def _Constant(self, node: ast.Constant) -> Evaluate:
        value = node.value
        if value is not None and type(value) not in (str, int, float, bool):
            raise self.fail(f"the literal {value!r} is not allowed")
        value = json_number(value)
        if value is None and node.value is not None:
            raise self.fail("a number beyond a float's range")
        return lambda item, computed: value

    def _Name(self, node: ast.Name) -> Evaluate:
        if node.id in _CONSTANTS:
            value = _CONSTANTS[node.id]
            return lambda item, computed: value
        return self.field(node.id)

    def _Attribute(self, node: ast.Attribute) -> Evaluate:
        parts = [node.attr]
        base: ast.AST = node.value
        while isinstance(base, ast.Attribute):
            parts.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name):
            raise self.fail("only field names may be dotted (`quote.bid`)")
        parts.append(base.id)
        return self.field(".".join(reversed(parts)))

    def _List(self, node: ast.List | ast.Tuple) -> Evaluate:
        elements = [self.compile(element) for element in node.elts]

        def listed(item: Any, computed: Any) -> Any:
            values = [element(item, computed) for element in elements]
            if any(type(value) is list or type(value) is dict for value in values):
                return None  # lists of lists would let computed columns double a row per column
            return values

        return listed

    _Tuple = _List

    def _BinOp(self, node: ast.BinOp) -> Evaluate:
        apply = _BINARY.get(type(node.op))
        if apply is None:
            raise self.fail(f"the operator {type(node.op).__name__} is not allowed")
        left, right = self.compile(node.left), self.compile(node.right)
        return lambda item, computed: apply(left(item, computed), right(item, computed))

    def _UnaryOp(self, node: ast.UnaryOp) -> Evaluate:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda item, computed: not operand(item, computed)
        if isinstance(node.op, ast.USub):
            return lambda item, computed: _negate(operand(item, computed))
        if isinstance(node.op, ast.UAdd):
            return lambda item, computed: _positive(operand(item, computed))
        raise self.fail(f"the operator {type(node.op).__name__} is not allowed")

    def _BoolOp(self, node: ast.BoolOp) -> Evaluate:
        operands = [self.compile(value) for value in node.values]
        if isinstance(node.op, ast.And):

            def all_of(item: Any, computed: Any) -> Any:
                value = None
                for operand in operands:
                    value = operand(item, computed)
                    if not value:
                        return value
                return value

            return all_of

        def any_of(item: Any, computed: Any) -> Any:
            value = None
            for operand in operands:
                value = operand(item, computed)
                if value:
                    return value
            return value

        return any_of

    def _Compare(self, node: ast.Compare) -> Evaluate:
        terms = [self.compile(node.left)] + [self.compile(c) for c in node.comparators]
        tests = []
        for op in node.ops:
            test = _COMPARE.get(type(op))
            if test is None:
                raise self.fail(f"the comparison {type(op).__name__} is not allowed")
            tests.append(test)

        def compare(item: Any, computed: Any) -> Any:
            left = terms[0](item, computed)
            for test, term in zip(tests, terms[1:], strict=True):
                right = term(item, computed)
                result = test(left, right)
                if not result:
                    return result
                left = right
            return True

        return compare

    def _IfExp(self, node: ast.IfExp) -> Evaluate:
        test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
        return lambda item, computed: body(item, computed) if test(item, computed) else orelse(item, computed)

    def _Call(self, node: ast.Call) -> Evaluate:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only the listed functions may be called")
        name = node.func.id
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments")
        if name == "field":
            if len(node.args) != 1 or not (
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                raise self.fail('field() takes one string: field("odd name")')
            return self.field(node.args[0].value)
        if name not in FUNCTIONS:
            raise self.fail(f"unknown function {name}() (known: field, {', '.join(FUNCTIONS)})")
        function, fewest, most = FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            raise self.fail(
                f"{name}() takes {fewest}" + (f" to {most}" if most > fewest else "") + " argument(s)"
            )
        arguments = [self.compile(arg) for arg in node.args]

        def call(item: Any, computed: Any) -> Any:
            try:
                return function(*[argument(item, computed) for argument in arguments])
            except (TypeError, ValueError, ArithmeticError):
                return None

        return call


def _negate(value: Any) -> Any:
    return json_number(-value) if is_number(value) else None


def _positive(value: Any) -> Any:
    return value if is_number(value) else None
