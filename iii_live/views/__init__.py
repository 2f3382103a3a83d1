"""Live views: filter, computed columns, group-by aggregates, sort and top N over a group,
kept current one write at a time and published as a stream group of their own."""

from .errors import ViewSpecError
from .spec import ViewSpec, base_groups, derived_group, derived_stream
from .view import View

__all__ = ["View", "ViewSpec", "ViewSpecError", "base_groups", "derived_group", "derived_stream"]
