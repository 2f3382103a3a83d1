"""The error a view spec gets when part of it is wrong."""

from __future__ import annotations


class ViewSpecError(ValueError):
    """A view spec is wrong; ``part`` names where (``where[1]``, ``agg.total``, ``columns.spread``).

    The message starts with the part, so the same text serves Python users and pages.
    """

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"view spec `{part}`: {reason}")
        self.part = part
        self.reason = reason

    def within(self, prefix: str) -> ViewSpecError:
        """The same error, its part named inside ``prefix`` (``views[2]``)."""
        return ViewSpecError(f"{prefix}.{self.part}", self.reason)


class PageViewsFull(RuntimeError):
    """Pages hold as many views as the engine allows (``max_page_views``): each costs work on
    every write to its group, so pages cannot add them without bound."""
