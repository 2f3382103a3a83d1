"""What a spec may cost each item: its terms, counted as it is compiled.

A view runs its whole spec on every item it reads, at every write: each condition, field,
aggregate and expression term is work per write, on the writer's thread. A spec holds at
most ``MAX_TERMS`` of them, so that no spec (a page's request may be a megabyte of
conditions) makes a write slow, and one too large is refused before it is compiled whole.
"""

from __future__ import annotations

from .errors import ViewSpecError

MAX_TERMS = 2_000
"""Conditions, fields, aggregates and expression terms (syntax nodes) of one spec, in all."""
MAX_DEPTH = 32
"""How deeply ``and``/``or``/``not`` may nest in a ``where``."""


class TermBudget:
    def __init__(self, limit: int = MAX_TERMS) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, part: str, terms: int = 1) -> None:
        """Count ``terms`` of ``part``; ``ViewSpecError`` naming it once the spec is too large."""
        self.spent += terms
        if self.spent > self.limit:
            raise ViewSpecError(
                part,
                f"the spec is too large: at most {self.limit} terms in all "
                "(conditions, fields, aggregates and the terms of expressions)",
            )
