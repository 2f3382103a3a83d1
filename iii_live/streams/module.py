"""The stream module: the ``stream::*`` functions, their events and their triggers (spec §2).

Every mutation runs under one write lock: store through the adapter, stamp and publish the
event, so the order of events in a group is the order of writes. Triggers run afterwards
on the event loop and never delay or fail the writer. A stream name served by custom
functions (``stream::set(name)``, ...) is routed to them instead of the adapter; its
events and triggers flow all the same.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .. import codec
from ..errors import InvocationError, deserialization_error
from ..functions import Deferred, FunctionRegistry, then
from . import inputs
from .adapters.base import StreamAdapter
from .custom import custom_function_id
from .events import CREATE, DELETE, EVENT, SYNC, UNAUTHORIZED, UPDATE, Event, GroupClock
from .hub import Hub, Subscriber, Subscription
from .triggers import STREAM, TriggerRegistry
from .update_ops import MISSING

log = logging.getLogger("iii_live.streams")

Spawn = Callable[[Coroutine[Any, Any, Any]], None]

FUNCTIONS = (
    "stream::set",
    "stream::get",
    "stream::delete",
    "stream::list",
    "stream::list_groups",
    "stream::list_all",
    "stream::send",
    "stream::update",
)


class StreamModule:
    def __init__(
        self,
        adapter: StreamAdapter,
        hub: Hub,
        functions: FunctionRegistry,
        triggers: TriggerRegistry,
        spawn: Spawn,
    ) -> None:
        self.adapter = adapter
        self.hub = hub
        self.functions = functions
        self.triggers = triggers
        self._spawn = spawn
        self._clock = GroupClock()
        self._lock = threading.RLock()

    def register_functions(self) -> None:
        for function_id in FUNCTIONS:
            self.functions.register(function_id, getattr(self, function_id.split("::")[1]))

    # -- the stream::* functions ---------------------------------------------------------

    def set(self, payload: Any) -> Any:
        req = inputs.set_input("stream::set", payload)
        value, value_json = _normalize("stream::set", req.data)
        custom = self._custom("set", req.stream_name)
        if custom:
            call = {
                "stream_name": req.stream_name,
                "group_id": req.group_id,
                "item_id": req.item_id,
                "data": value,
            }
            return then(
                self._call_custom(custom, call, "STREAM_SET_ERROR", "Failed to set value"),
                lambda result: self._custom_write_done("set", req, result),
            )
        with self._lock:
            old = self._adapter_call(
                "STREAM_SET_ERROR",
                "Failed to set value",
                self.adapter.set,
                req.stream_name,
                req.group_id,
                req.item_id,
                value,
                value_json,
            )
            event = self._emit(
                req.stream_name,
                req.group_id,
                req.item_id,
                CREATE if old is MISSING else UPDATE,
                value,
                value_json,
            )
        self._after(event)
        return {"old_value": None if old is MISSING else old, "new_value": value}

    def get(self, payload: Any) -> Any:
        req = inputs.item_ref("stream::get", payload)
        custom = self._custom("get", req.stream_name)
        if custom:
            return self.functions.call(custom, _asdict(req))
        value = self._adapter_call(
            "STREAM_GET_ERROR",
            "Failed to get value",
            self.adapter.get,
            req.stream_name,
            req.group_id,
            req.item_id,
        )
        return None if value is MISSING else value

    def delete(self, payload: Any) -> Any:
        req = inputs.item_ref("stream::delete", payload)
        custom = self._custom("delete", req.stream_name)
        if custom:
            return then(
                self._call_custom(custom, _asdict(req), "STREAM_DELETE_ERROR", "Failed to delete value"),
                lambda result: self._custom_write_done("delete", req, result),
            )
        with self._lock:
            old = self._adapter_call(
                "STREAM_DELETE_ERROR",
                "Failed to delete value",
                self.adapter.delete,
                req.stream_name,
                req.group_id,
                req.item_id,
            )
            if old is MISSING:
                return {"old_value": None}
            event = self._emit(req.stream_name, req.group_id, req.item_id, DELETE, old)
        self._after(event)
        return {"old_value": old}

    def list(self, payload: Any) -> Any:
        req = inputs.group_ref("stream::list", payload)
        custom = self._custom("list", req.stream_name)
        if custom:
            return self.functions.call(custom, _asdict(req))
        return self._adapter_call(
            "STREAM_GET_GROUP_ERROR", "Failed to get group", self.adapter.list, req.stream_name, req.group_id
        )

    def list_groups(self, payload: Any) -> Any:
        stream_name = inputs.stream_name("stream::list_groups", payload)
        custom = self._custom("list_groups", stream_name)
        if custom:
            return self.functions.call(custom, {"stream_name": stream_name})
        return self._adapter_call(
            "STREAM_LIST_GROUPS_ERROR", "Failed to list groups", self.adapter.list_groups, stream_name
        )

    def list_all(self, payload: Any) -> Any:
        inputs.list_all_input("stream::list_all", payload)
        streams = self._adapter_call("STREAM_LIST_ALL_ERROR", "Failed to list stream", self.adapter.list_all)
        listed = [{"id": name, "groups": sorted(set(groups))} for name, groups in sorted(streams.items())]
        return {"stream": listed, "count": len(listed)}

    def send(self, payload: Any) -> Any:
        req = inputs.send_input("stream::send", payload)
        value, value_json = _normalize("stream::send", req.data)
        with self._lock:
            event = Event(
                req.stream_name,
                req.group_id,
                req.id,
                self._clock.next(req.stream_name, req.group_id),
                EVENT,
                value,
                data_json=value_json,
                custom_type=req.type,
            )
            self._adapter_call("STREAM_SEND_ERROR", "Failed to send event", self.adapter.emit, event)
        self._after(event)
        return None

    def update(self, payload: Any) -> Any:
        req = inputs.update_input("stream::update", payload)
        custom = self._custom("update", req.stream_name)
        if custom:
            call = {
                "stream_name": req.stream_name,
                "group_id": req.group_id,
                "item_id": req.item_id,
                "ops": payload["ops"],
            }
            return then(
                self._call_custom(custom, call, "STREAM_UPDATE_ERROR", "Failed to update value"),
                lambda result: self._custom_write_done("update", req, result),
            )
        with self._lock:
            old, new, errors = self._adapter_call(
                "STREAM_UPDATE_ERROR",
                "Failed to update value",
                self.adapter.update,
                req.stream_name,
                req.group_id,
                req.item_id,
                req.ops,
            )
            event = self._emit(
                req.stream_name, req.group_id, req.item_id, CREATE if old is MISSING else UPDATE, new
            )
        self._after(event)
        result = {"old_value": None if old is MISSING else old, "new_value": new}
        if errors:
            result["errors"] = errors
        return result

    # -- subscriptions -------------------------------------------------------------------

    def attach(self, subscription: Subscription) -> Any:
        """Subscribe and queue the sync event first; returns None or an awaitable.

        With the adapter (or a synchronous custom stream) the snapshot is read and the
        subscription added under the write lock, so the subscriber misses no write and
        sees none twice.
        """
        stream_name, group_id, item_id = subscription.stream_name, subscription.group_id, subscription.item_id
        op = "list" if item_id is None else "get"
        payload = {"stream_name": stream_name, "group_id": group_id}
        if item_id is not None:
            payload["item_id"] = item_id
        reader = self.list if item_id is None else self.get
        if self._custom(op, stream_name) is None:
            with self._lock:
                snapshot = reader(payload)
                self.hub.add(subscription)
                self._sync(subscription, snapshot)
            self.hub.drain()
            return None
        self.hub.add(subscription)

        def synced(snapshot: Any) -> None:
            with self._lock:
                self._sync(subscription, snapshot)
            self.hub.drain()

        return then(reader(payload), synced)

    def _sync(self, subscription: Subscription, snapshot: Any) -> None:
        stamp = self._clock.next(subscription.stream_name, subscription.group_id)
        event = Event(
            subscription.stream_name, subscription.group_id, subscription.item_id, stamp, SYNC, snapshot
        )
        self.hub.publish_to(event, subscription)

    def detach(self, subscription: Subscription) -> None:
        self.hub.remove(subscription)

    def notify_unauthorized(
        self, subscriber: Subscriber, stream_name: str, group_id: str, item_id: str | None
    ) -> None:
        """Tell one subscriber its join was vetoed (spec §1.5)."""
        with self._lock:
            event = Event(
                stream_name, group_id, item_id, self._clock.next(stream_name, group_id), UNAUTHORIZED
            )
            self.hub.publish_to(event, Subscription(subscriber, stream_name, group_id, item_id))
        self.hub.drain()

    # -- helpers -------------------------------------------------------------------------

    def _custom(self, op: str, stream_name: str) -> str | None:
        function_id = custom_function_id(op, stream_name)
        return function_id if function_id in self.functions else None

    def _call_custom(self, function_id: str, payload: dict[str, Any], code: str, what: str) -> Any:
        def failed(exc: Exception) -> Exception:
            if not isinstance(exc, InvocationError):
                return exc
            return InvocationError(code, f"{what}: Failed to invoke function: {exc.code}: {exc.message}")

        try:
            result = self.functions.call(function_id, payload)
        except InvocationError as exc:
            raise failed(exc) from exc
        if inspect.isawaitable(result):
            return Deferred(result, on_error=failed)
        return result

    def _custom_write_done(self, op: str, req: Any, result: Any) -> Any:
        """Check a custom set/delete/update result, then emit its event (spec §5.3)."""
        code = {"set": "STREAM_SET_ERROR", "delete": "STREAM_DELETE_ERROR", "update": "STREAM_UPDATE_ERROR"}[
            op
        ]
        what = {
            "set": "Failed to set value",
            "delete": "Failed to delete value",
            "update": "Failed to update value",
        }[op]
        if result is None:
            raise InvocationError(code, f"{what}: Function returned no result")
        if not isinstance(result, dict):
            raise InvocationError(
                "JSON_ERROR",
                f"Failed to convert result to value: expected an object, got {type(result).__name__}",
            )
        if op != "delete" and "new_value" not in result:
            raise InvocationError(
                "JSON_ERROR", "Failed to convert result to value: missing field `new_value`"
            )
        old = result.get("old_value")
        with self._lock:
            if op == "delete":
                if old is None:
                    return {"old_value": None}
                event = self._emit(req.stream_name, req.group_id, req.item_id, DELETE, old)
            else:
                kind = CREATE if old is None else UPDATE
                event = self._emit(req.stream_name, req.group_id, req.item_id, kind, result["new_value"])
        self._after(event)
        return result

    def _adapter_call(self, code: str, what: str, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except InvocationError:
            raise
        except Exception as exc:
            raise InvocationError(code, f"{what}: {exc}") from exc

    def _emit(
        self,
        stream_name: str,
        group_id: str,
        item_id: str,
        kind: str,
        data: Any,
        data_json: bytes | None = None,
    ) -> Event:
        """Stamp and publish a change event; the caller holds the write lock."""
        event = Event(
            stream_name,
            group_id,
            item_id,
            self._clock.next(stream_name, group_id),
            kind,
            data,
            data_json=data_json,
        )
        try:
            self.adapter.emit(event)
        except Exception:
            log.exception("publishing %r failed; the write itself succeeded", event)
        return event

    def _after(self, event: Event) -> None:
        """Deliver what the write published, then start matching ``stream`` triggers."""
        self.hub.drain()
        matching = self.triggers.matching(STREAM, event.stream_name, event.group_id, event.item_id)
        if matching:
            self._spawn(self.triggers.run_stream(matching, codec.loads(event.frame)))


def _normalize(function_id: str, data: Any) -> tuple[Any, bytes]:
    try:
        return codec.normalize(data)
    except codec.EncodeError as exc:
        raise deserialization_error(function_id, f"`data`: {exc}") from None


def _asdict(ref: Any) -> dict[str, Any]:
    return {name: getattr(ref, name) for name in ref.__slots__}
