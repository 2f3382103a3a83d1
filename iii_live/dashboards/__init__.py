"""Dashboards: live tables, charts and markdown laid out in rows, shown in the notebook and
published by the engine as a page that many viewers open (``engine.publish``)."""

from .dashboard import Dashboard
from .registry import LAYOUT_ITEM, LAYOUT_STREAM, Dashboards, Published

__all__ = ["LAYOUT_ITEM", "LAYOUT_STREAM", "Dashboard", "Dashboards", "Published"]
