"""iii-live: the iii engine's realtime stream worker, embeddable in Python and notebooks."""

from .config import EngineConfig
from .dashboards import Dashboard
from .engine import Engine, start
from .errors import ConfigError, InvocationError, PortInUseError
from .stream_handle import StreamHandle
from .streams.hub import CallbackSubscription
from .views import View, ViewSpec, ViewSpecError

__all__ = [
    "CallbackSubscription",
    "Dashboard",
    "LiveChart",
    "LiveTable",
    "ConfigError",
    "Engine",
    "EngineConfig",
    "InvocationError",
    "PortInUseError",
    "StreamHandle",
    "View",
    "ViewSpec",
    "ViewSpecError",
    "start",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Widgets load anywidget and ipywidgets only when first used."""
    if name in ("LiveTable", "LiveChart"):
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'iii_live' has no attribute {name!r}")
