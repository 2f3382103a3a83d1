"""What a view is: a spec that validates, normalizes, and round-trips through a dict or JSON.

``ViewSpec.build(stream_name, group_id, where=..., ...)`` is what ``engine.stream(s).view(group, ...)``
calls; ``ViewSpec.parse(dict_or_json)`` is how config files and pages make one. Both check
everything that can be checked without data (operators, aggregates, expressions, references
between parts) and raise ``ViewSpecError`` naming the wrong part; fields that no item has
are caught when the view first reads its group.

Derived names (where the view's rows are published): a view ``name`` over the group
``group_id`` of ``stream_name`` publishes the group ``<group_id>~<name>`` of the stream
``<stream_name>~views``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .. import codec
from ..streams.inputs import VIEWS_STREAM_SUFFIX
from .aggregates import parse_agg
from .errors import ViewSpecError

NAME_SEPARATOR = "~"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_LIMIT = 2**53 - 1
"""The largest ``limit``: the largest integer a page's numbers hold exactly."""
KEYS = (
    "stream_name",
    "group_id",
    "name",
    "where",
    "columns",
    "group_by",
    "agg",
    "sort_by",
    "descending",
    "limit",
)


def derived_stream(stream: str) -> str:
    """The stream that holds the views of ``stream``."""
    return stream + VIEWS_STREAM_SUFFIX


def derived_group(group: str, name: str) -> str:
    """The group that holds the rows of view ``name`` over ``group``."""
    return f"{group}{NAME_SEPARATOR}{name}"


def base_groups(stream: str, group: str) -> list[tuple[str, str]]:
    """The groups whose items the group ``stream/group`` is a view of: its base, that base's
    base if it is a view too, and so on; ``[]`` for a group whose name is no view's."""
    bases = []
    while stream.endswith(VIEWS_STREAM_SUFFIX):
        base_group, _, name = group.rpartition(NAME_SEPARATOR)
        stream = stream[: -len(VIEWS_STREAM_SUFFIX)]
        if not (stream and base_group and NAME_PATTERN.fullmatch(name)):
            break
        group = base_group
        bases.append((stream, group))
    return bases


Column = str | dict[str, Any]
"""A field to keep (``"price"``), or computed columns (``{"spread": "ask - bid"}``; the value
is an expression or a Python callable of the item)."""


@dataclass(frozen=True)
class ViewSpec:
    stream_name: str
    group_id: str
    name: str
    where: list[Any] | None = None
    columns: list[Column] | None = None
    group_by: list[str] | None = None
    agg: dict[str, list[str]] | None = None
    sort_by: list[str] | None = None
    descending: bool | list[bool] = False
    limit: int | None = None
    _plan: Any = field(default=None, compare=False, repr=False)

    # -- making one --------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        stream_name: str,
        group_id: str,
        *,
        name: str | None = None,
        where: Any = None,
        columns: Any = None,
        group_by: str | list[str] | None = None,
        agg: dict[str, Any] | None = None,
        sort_by: str | list[str] | None = None,
        descending: bool | list[bool] = False,
        limit: int | None = None,
    ) -> ViewSpec:
        """A validated spec (see the module docstring); raises ``ViewSpecError``."""
        from .plan import compile_plan

        for part, value in (("stream_name", stream_name), ("group_id", group_id)):
            if not isinstance(value, str) or not value:
                raise ViewSpecError(part, f"must be a non-empty string, not {value!r}")
        if name is not None and (not isinstance(name, str) or not NAME_PATTERN.fullmatch(name)):
            raise ViewSpecError("name", f"must be 1 to 64 of A-Z a-z 0-9 _ . -, not {name!r}")
        parsed_agg = parse_agg(agg) or None
        parsed_group_by = _names("group_by", group_by)
        if parsed_agg is not None and parsed_group_by is None:
            parsed_group_by = []
        sort_fields = _names("sort_by", sort_by)
        spec = cls(
            stream_name=stream_name,
            group_id=group_id,
            name=name or "",
            where=where,
            columns=_columns(columns),
            group_by=parsed_group_by,
            agg=parsed_agg,
            sort_by=sort_fields,
            descending=_descending(descending, sort_fields),
            limit=_limit(limit),
        )
        plan = compile_plan(spec)
        spec = replace(spec, where=plan.where_conditions, _plan=plan)
        if not name:
            spec = replace(spec, name=_default_name(spec))
        return spec

    @classmethod
    def parse(cls, raw: ViewSpec | dict[str, Any] | str | bytes) -> ViewSpec:
        """A spec from its dict form (``to_dict``), its JSON text, or a spec."""
        if isinstance(raw, ViewSpec):
            return raw
        if isinstance(raw, (str, bytes)):
            try:
                raw = codec.loads(raw)
            except codec.JSONDecodeError as exc:
                raise ViewSpecError("spec", f"not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ViewSpecError(
                "spec", f"a view spec is an object with stream_name, group_id, ..., not {raw!r}"
            )
        unknown = set(raw) - set(KEYS)
        if unknown:
            raise ViewSpecError(sorted(unknown)[0], f"unknown key (known: {', '.join(KEYS)})")
        options = {key: raw[key] for key in KEYS[2:] if raw.get(key) is not None}
        return cls.build(raw.get("stream_name"), raw.get("group_id"), **options)  # type: ignore[arg-type]

    # -- reading it ----------------------------------------------------------------------

    @property
    def grouped(self) -> bool:
        return self.group_by is not None

    @property
    def derived_stream(self) -> str:
        return derived_stream(self.stream_name)

    @property
    def derived_group(self) -> str:
        return derived_group(self.group_id, self.name)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a dict: ``ViewSpec.parse(spec.to_dict()) == spec``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("_") or value is None or (f.name == "descending" and value is False):
                continue
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """The spec as JSON text; computed columns made of Python callables have none."""
        for column in self.columns or ():
            if isinstance(column, dict):
                for name, source in column.items():
                    if callable(source):
                        raise ViewSpecError(f"columns.{name}", "a Python callable has no JSON form")
        return codec.dumps(self.to_dict()).decode()

    @property
    def plan(self) -> Any:
        """The compiled form (``iii_live.views.plan.ViewPlan``)."""
        return self._plan


def _names(part: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)):
        raise ViewSpecError(part, f"expected a field name or a list of them, not {value!r}")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ViewSpecError(f"{part}[{i}]", f"a field name must be a non-empty string, not {name!r}")
    if len(set(names)) != len(names):
        raise ViewSpecError(part, "a field is named twice")
    return list(names)


def _columns(value: Any) -> list[Column] | None:
    if value is None:
        return None
    entries = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(entries, (list, tuple)):
        raise ViewSpecError("columns", f"expected a list of fields and {{name: expression}}, not {value!r}")
    columns: list[Column] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if isinstance(entry, str) and entry:
            names = [entry]
            columns.append(entry)
        elif isinstance(entry, dict) and entry:
            names = list(entry)
            for name, source in entry.items():
                if not isinstance(name, str) or not name:
                    raise ViewSpecError(
                        f"columns[{i}]", f"a column name must be a non-empty string, not {name!r}"
                    )
                if not (isinstance(source, str) or callable(source)):
                    raise ViewSpecError(
                        f"columns.{name}", f"expected an expression or a Python callable, not {source!r}"
                    )
                columns.append({name: source})
        else:
            raise ViewSpecError(
                f"columns[{i}]", f"expected a field name or {{name: expression}}, not {entry!r}"
            )
        for name in names:
            if name in seen:
                raise ViewSpecError(f"columns.{name}", "the column is named twice")
            seen.add(name)
    return columns


def _descending(value: Any, sort_by: list[str] | None) -> bool | list[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, bool) for v in value):
        if sort_by is None or len(value) != len(sort_by):
            raise ViewSpecError("descending", "a list needs one true/false per sort_by field")
        return list(value)
    raise ViewSpecError("descending", f"expected true/false (or one per sort_by field), not {value!r}")


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise ViewSpecError("limit", f"expected a positive integer (at most {MAX_LIMIT}), not {value!r}")
    return value


def _default_name(spec: ViewSpec) -> str:
    """Equal specs share a name (and so one view); specs holding callables get a fresh one."""
    if spec.plan.has_callables:
        return "v" + uuid.uuid4().hex[:12]
    try:
        text = spec.to_json()
    except codec.EncodeError:
        raise _unencodable(spec) from None
    return "v" + hashlib.sha1(text.encode()).hexdigest()[:12]


def _unencodable(spec: ViewSpec) -> ViewSpecError:
    """The error naming the part of ``spec`` that has no JSON form (a lone surrogate)."""
    parts = spec.to_dict()
    for part, value in parts.items():
        try:
            codec.dumps(value)
        except codec.EncodeError as exc:
            return ViewSpecError(part, f"has no JSON form: {exc}")
    return ViewSpecError("spec", "has no JSON form")
