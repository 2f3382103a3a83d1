"""The engine without I/O: registries, storage, fan-out and the ``stream::*`` functions.

Every transport (the stream port, the engine port, widgets, pages, the Python API) reaches
the engine through a ``StreamCore``. It owns no event loop and no socket: it is given a
``spawn`` (run a coroutine on the loop) and an ``offload`` (run blocking work on a thread).
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable
from typing import Any

from .functions import FunctionRegistry, discard
from .limits import Limits
from .protocol.stream_wire import UNAUTHORIZED, Event
from .streams.adapters.base import StreamAdapter
from .streams.clock import now_ms
from .streams.custom import custom_function_id, custom_stream_names, handlers_for
from .streams.history import GroupHistory
from .streams.hub import Hub, Schedule, Subscription
from .streams.inputs import LAYOUT_STREAM
from .streams.retention import Retention
from .streams.stream_functions import StreamFunctions
from .streams.subscriptions import Offload, Since, Spawn, Subscriptions
from .streams.triggers import TriggerRegistry
from .views.registry import ViewRegistry
from .workers import WorkerRegistry


class StreamCore:
    def __init__(
        self,
        adapter: StreamAdapter,
        limits: Limits,
        *,
        spawn: Spawn,
        offload: Offload,
        history: GroupHistory | None = None,
        retention: dict[str, Retention] | None = None,
    ) -> None:
        self.limits = limits
        self.retention = retention or {}
        """Configured per-stream policies, applied when storage opens."""
        self.adapter = adapter
        self.functions = FunctionRegistry()
        self.triggers = TriggerRegistry(self.functions.call)
        self.hub = Hub()
        self.streams = StreamFunctions(adapter, self.hub, self.functions, self.triggers, spawn, limits)
        self.streams.register_functions()
        self.subscriptions = Subscriptions(self.hub, self.streams, adapter, offload, spawn, history)
        self.hub.on_overflow = self.subscriptions.resync
        self.workers = WorkerRegistry(self.functions, self.triggers)
        self.spawn = spawn
        self.offload = offload
        self.views = ViewRegistry(self)

    def open(self, schedule: Schedule) -> None:
        """Serve on-loop subscribers through ``schedule``, open storage, start retention."""
        self.hub.bind(schedule)
        self.adapter.open(self.subscriptions)
        try:
            self.streams.start_retention(self.retention)
        except BaseException:
            self.adapter.close()
            raise

    def close(self) -> None:
        """Close the views, stop retention, flush storage and stop its background work
        (sockets are the transports' to close)."""
        self.views.close()
        self.streams.stop_retention()
        self.adapter.close()

    # -- calls ---------------------------------------------------------------------------

    def call(self, function_id: str, payload: Any) -> Any:
        """Run a function: its result, or an awaitable of it; failures are InvocationErrors."""
        return self.functions.call(function_id, payload)

    def create_stream(self, stream_name: str, adapter: Any) -> None:
        """Serve ``stream_name`` from an object with get/set/delete/list/list_groups[/update]."""
        if stream_name == LAYOUT_STREAM:
            raise ValueError(f"{LAYOUT_STREAM} is reserved for the layouts of dashboards")
        for op, handler in handlers_for(adapter).items():
            self.functions.register(custom_function_id(op, stream_name), handler)

    # -- subscribing ---------------------------------------------------------------------

    def subscribe(self, subscription: Subscription, since: Since | None = None) -> Awaitable[None] | None:
        """Subscribe with a sync first (blocking for a remote store), or, resuming from
        ``since``, with the events missed; see ``Subscriptions``."""
        return self.subscriptions.attach(subscription, since)

    async def subscribe_async(self, subscription: Subscription, since: Since | None = None) -> None:
        """``subscribe`` on the event loop: remote reads run on a worker thread."""
        await self.subscriptions.attach_async(subscription, since)

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.detach(subscription)

    def unauthorized(
        self, stream_name: str, group_id: str, item_id: str | None, reason: str | None = None
    ) -> Event:
        """The answer to a refused join: vetoed (spec §1.5), or over a limit (``reason``).

        Stamped with the wall clock, outside any group's order: a refused name leaves no trace.
        """
        return Event(stream_name, group_id, item_id, now_ms(), UNAUTHORIZED, reason)

    # -- looking -------------------------------------------------------------------------

    def overview(self) -> builtins.list[dict[str, Any]]:
        """Every stream with its groups, item and subscriber counts (blocking: offload it).

        Adapter streams come from ``stream::list_all``; streams served by ``create_stream``
        from their own ``list_groups`` and ``list`` (skipped when those answer asynchronously).
        """
        subscribers = self.hub.counts()
        streams: dict[str, dict[str, int]] = {}
        for stream in self.call("stream::list_all", {})["stream"]:
            name = stream["id"]
            streams[name] = {group: self.adapter.count(name, group) for group in stream["groups"]}
        for name in custom_stream_names(self.functions):
            groups = self.call("stream::list_groups", {"stream_name": name})
            if not isinstance(groups, builtins.list):
                discard(groups)
                continue
            counts = streams.setdefault(name, {})
            for group in groups:
                values = self.call("stream::list", {"stream_name": name, "group_id": str(group)})
                if isinstance(values, builtins.list):
                    counts[str(group)] = len(values)
                else:
                    discard(values)
        return [
            {
                "id": name,
                "groups": [
                    {"id": group, "items": items, "subscribers": subscribers.get((name, group), 0)}
                    for group, items in sorted(groups.items())
                ],
            }
            for name, groups in sorted(streams.items())
        ]

    def status(self) -> dict[str, Any]:
        """Storage health and the numbers of workers and subscriptions."""
        return {
            "workers": len(self.workers.describe()),
            "subscriptions": sum(self.hub.counts().values()),
            "storage": self.adapter.status(),
        }
