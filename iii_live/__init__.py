"""iii-live: the iii engine's realtime stream worker, embeddable in Python and notebooks."""

from .config import EngineConfig
from .engine import CallbackSubscription, Engine, start
from .errors import ConfigError, InvocationError, PortInUseError
from .stream_handle import StreamHandle

__all__ = [
    "CallbackSubscription",
    "ConfigError",
    "Engine",
    "EngineConfig",
    "InvocationError",
    "PortInUseError",
    "StreamHandle",
    "start",
]
__version__ = "0.1.0"
