"""Notebook widgets that show stream groups live: ``LiveTable`` and ``LiveChart``."""

from .chart import LiveChart
from .table import LiveTable

__all__ = ["LiveChart", "LiveTable"]
