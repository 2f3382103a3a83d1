"""The ``stream::*`` functions, their events and their triggers (spec §2).

Writes go through the adapter under the engine's write lock; the adapter publishes each
change atomically with it, so the order of events in a group is the order of its writes.
Triggers run afterwards on the event loop and never delay or fail the writer. A stream
name served by custom functions (``stream::set(name)``, ...) is routed to them instead of
the adapter; its events and triggers flow all the same.

Beyond the eight functions: ``set_many`` (a bulk write, one lock and one timestamp for many
rows) and retention (``retain``, and a sweeper that evicts expired items), for adapters
that provide them (kv and redis).
"""

from __future__ import annotations

import builtins
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .. import codec
from ..errors import InvocationError, deserialization_error
from ..functions import Deferred, FunctionRegistry, failed, then
from ..limits import DEFAULT_LIMITS, Limits
from ..protocol.stream_wire import CREATE, DELETE, EVENT, UPDATE, Event, EventDraft
from . import inputs
from .adapters.base import BulkResult, RetainingAdapter, StreamAdapter
from .clock import GroupClock
from .custom import custom_function_id
from .hub import Hub, Subscription
from .retention import Retention, Sweeper, sweep_interval
from .triggers import STREAM, TriggerRegistry
from .update_ops import MISSING

log = logging.getLogger("iii_live.streams")

_MAX_DIRECT = 1024
"""Stream names ``sets_directly`` remembers before it starts afresh."""

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

_ERRORS = {
    "set": ("STREAM_SET_ERROR", "Failed to set value"),
    "get": ("STREAM_GET_ERROR", "Failed to get value"),
    "delete": ("STREAM_DELETE_ERROR", "Failed to delete value"),
    "list": ("STREAM_GET_GROUP_ERROR", "Failed to get group"),
    "list_groups": ("STREAM_LIST_GROUPS_ERROR", "Failed to list groups"),
    "list_all": ("STREAM_LIST_ALL_ERROR", "Failed to list stream"),
    "send": ("STREAM_SEND_ERROR", "Failed to send event"),
    "update": ("STREAM_UPDATE_ERROR", "Failed to update value"),
}


class StreamFunctions:
    def __init__(
        self,
        adapter: StreamAdapter,
        hub: Hub,
        functions: FunctionRegistry,
        triggers: TriggerRegistry,
        spawn: Spawn,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.adapter = adapter
        self.limits = limits
        self.hub = hub
        self.functions = functions
        self.triggers = triggers
        self._spawn = spawn
        self.clock = GroupClock()
        self.lock = threading.RLock()
        """The write lock: serializes writes with each other and with subscribing, so a
        group's events are published in write order and a new subscriber misses nothing."""
        self._evicted: Callable[[], builtins.list[Event]] = getattr(adapter, "evicted", list)
        self._sweeper: Sweeper | None = None
        self._own_set: Any = None
        """The ``stream::set`` registered by ``register_functions`` (one in its place is called instead)."""
        self._direct: dict[str, bool] = {}
        """``sets_directly`` by stream name, as of registry version ``_direct_version``."""
        self._direct_version = -1

    def register_functions(self) -> None:
        for function_id in FUNCTIONS:
            self.functions.register(function_id, getattr(self, function_id.split("::")[1]))
        self._own_set = self.functions.get("stream::set")

    # -- the stream::* functions ---------------------------------------------------------

    def set(self, payload: Any) -> Any:
        req = inputs.set_input("stream::set", payload, self.limits)
        custom = self._custom("set", req.stream_name)
        if custom:
            value, _ = self._normalize("stream::set", req.data)
            call = {**_ref(req), "data": value}
            return then(
                self._call_custom(custom, call, "set"), lambda result: self._custom_done("set", req, result)
            )
        inputs.writable_stream("stream::set", req.stream_name)
        return self._write(req.stream_name, req.group_id, req.item_id, req.data)

    def set_item(self, stream_name: str, group_id: str, item_id: str, data: Any) -> dict[str, Any]:
        """``stream::set`` with its fields as arguments, for a stream that ``sets_directly``:
        the same checks, result, errors and events, without a payload to build and read (the
        notebook's hottest call, ``engine.stream(name).set``)."""
        if not inputs.plain_item_names(stream_name, group_id, item_id, self.limits.max_name_length):
            # the full check: raises the error that names the field, or lets the names pass
            payload = {"stream_name": stream_name, "group_id": group_id, "item_id": item_id, "data": data}
            inputs.set_input("stream::set", payload, self.limits)
        inputs.writable_stream("stream::set", stream_name)
        try:
            return self._write(stream_name, group_id, item_id, data)
        except InvocationError:
            raise
        except Exception as exc:
            raise failed("stream::set", exc) from exc

    def sets_directly(self, stream_name: str) -> bool:
        """Whether ``set_item`` serves ``stream::set`` of a stream: the engine's own function is
        registered (not one in its place) and the adapter holds the stream (no custom functions)."""
        version = self.functions.version
        if version != self._direct_version or len(self._direct) > _MAX_DIRECT:
            self._direct, self._direct_version = {}, version
        direct = self._direct.get(stream_name)
        if direct is None:
            own = self.functions.get("stream::set") is self._own_set
            direct = self._direct[stream_name] = own and not self._custom("set", stream_name)
        return direct

    def _write(self, stream_name: str, group_id: str, item_id: str, data: Any) -> dict[str, Any]:
        """Store one item through the adapter and publish its event (``stream::set``, of a
        stream the caller may write)."""
        value, value_json = self._normalize("stream::set", data)
        with self.lock:
            draft = EventDraft(stream_name, group_id, item_id, self.clock.next(stream_name, group_id))
            try:
                old, event = self.adapter.set(draft, value, value_json)
            except InvocationError:
                raise
            except Exception as exc:
                raise _failed("set", exc) from exc
            evicted = self._evicted()
        self._after(event)
        if evicted:
            self._after_many(evicted)
        return {"old_value": None if old is MISSING else old, "new_value": value}

    def get(self, payload: Any) -> Any:
        req = inputs.item_ref("stream::get", payload, self.limits)
        custom = self._custom("get", req.stream_name)
        if custom:
            return self.functions.call(custom, _ref(req))
        return _plain(self._store("get", self.adapter.get, req.stream_name, req.group_id, req.item_id))

    def holds(self, payload: Any) -> bool:
        """Whether ``stream::get`` of ``payload`` finds an item (one stored as JSON null too);
        False for streams served by custom functions, which cannot say."""
        try:
            req = inputs.item_ref("stream::get", payload, self.limits)
        except InvocationError:
            return False
        if self._custom("get", req.stream_name):
            return False
        return self._store("get", self.adapter.get, req.stream_name, req.group_id, req.item_id) is not MISSING

    def delete(self, payload: Any) -> Any:
        req = inputs.item_ref("stream::delete", payload, self.limits)
        custom = self._custom("delete", req.stream_name)
        if custom:
            return then(
                self._call_custom(custom, _ref(req), "delete"),
                lambda result: self._custom_done("delete", req, result),
            )
        inputs.writable_stream("stream::delete", req.stream_name)
        return self._delete(req)

    def _delete(self, req: Any) -> dict[str, Any]:
        with self.lock:
            old, event = self._store("delete", self.adapter.delete, self._draft(req))
        if event is not None:
            self._after(event)
        return {"old_value": _plain(old)}

    def set_reserved(self, stream_name: str, group_id: str, item_id: str, data: Any) -> dict[str, Any]:
        """``stream::set`` of a stream that only the engine writes (``inputs.writable_stream``),
        for the engine itself: a dashboard's layout."""
        inputs.set_input(
            "stream::set",
            {"stream_name": stream_name, "group_id": group_id, "item_id": item_id, "data": data},
            self.limits,
        )
        return self._write(stream_name, group_id, item_id, data)

    def delete_reserved(self, stream_name: str, group_id: str, item_id: str) -> dict[str, Any]:
        """``stream::delete`` of a stream that only the engine writes, for the engine itself."""
        payload = {"stream_name": stream_name, "group_id": group_id, "item_id": item_id}
        return self._delete(inputs.item_ref("stream::delete", payload, self.limits))

    def list(self, payload: Any) -> Any:
        req = inputs.group_ref("stream::list", payload, self.limits)
        custom = self._custom("list", req.stream_name)
        if custom:
            return self.functions.call(custom, _ref(req))
        return self._store("list", self.adapter.list, req.stream_name, req.group_id)

    def list_groups(self, payload: Any) -> Any:
        stream_name = inputs.stream_name("stream::list_groups", payload, self.limits)
        custom = self._custom("list_groups", stream_name)
        if custom:
            return self.functions.call(custom, {"stream_name": stream_name})
        return self._store("list_groups", self.adapter.list_groups, stream_name)

    def list_all(self, payload: Any) -> Any:
        inputs.list_all_input("stream::list_all", payload)
        streams = self._store("list_all", self.adapter.list_all)
        listed = [{"id": name, "groups": sorted(set(groups))} for name, groups in sorted(streams.items())]
        return {"stream": listed, "count": len(listed)}

    def send(self, payload: Any) -> Any:
        req = inputs.send_input("stream::send", payload, self.limits)
        value, value_json = self._normalize("stream::send", req.data)
        with self.lock:
            stamp = self.clock.next(req.stream_name, req.group_id)
            event = Event(
                req.stream_name,
                req.group_id,
                req.id,
                stamp,
                EVENT,
                value,
                data_json=value_json,
                custom_type=req.type,
            )
            self._store("send", self.adapter.emit, event)
        self._after(event)
        return None

    def update(self, payload: Any) -> Any:
        req = inputs.update_input("stream::update", payload, self.limits)
        custom = self._custom("update", req.stream_name)
        if custom:
            call = {**_ref(req), "ops": payload["ops"]}
            return then(
                self._call_custom(custom, call, "update"),
                lambda result: self._custom_done("update", req, result),
            )
        inputs.writable_stream("stream::update", req.stream_name)
        with self.lock:
            check = functools.partial(self.check_value, "stream::update")
            old, new, errors, event = self._store(
                "update", self.adapter.update, self._draft(req), req.ops, check
            )
            evicted = self._evicted()
        self._after(event)
        self._after_many(evicted)
        result = {"old_value": _plain(old), "new_value": new}
        if errors:
            result["errors"] = errors
        return result

    # -- reads for subscriptions ---------------------------------------------------------

    def items(self, stream_name: str, group_id: str) -> Any:
        """``{item_id: value}`` of a group (custom streams: ids from ``value["id"]`` or position)."""
        payload = {"stream_name": stream_name, "group_id": group_id}
        if self._custom("list", stream_name) is None:
            inputs.group_ref("stream::list", payload, self.limits)
            return self._store("list", self.adapter.items, stream_name, group_id)
        return then(self.list(payload), _keyed)

    def snapshot(self, subscription: Subscription) -> Any:
        """What a new subscriber's ``sync`` carries: the item, or the group (a list, or keyed);
        a value or an awaitable of it (custom streams served by async functions)."""
        payload = {"stream_name": subscription.stream_name, "group_id": subscription.group_id}
        if subscription.item_id is not None:
            return self.get({**payload, "item_id": subscription.item_id})
        if subscription.keyed:
            return self.items(subscription.stream_name, subscription.group_id)
        return self.list(payload)

    def is_custom(self, stream_name: str) -> bool:
        """True when functions registered with ``create_stream`` serve this stream."""
        return self._custom("list", stream_name) is not None

    # -- helpers -------------------------------------------------------------------------

    def _normalize(self, function_id: str, data: Any) -> tuple[Any, bytes]:
        """A private JSON copy of ``data`` and its bytes, within the payload limits."""
        try:
            value_json = codec.dumps(data)
        except codec.EncodeError as exc:
            raise deserialization_error(function_id, f"`data`: {exc}") from None
        value = codec.loads(value_json)
        if len(value_json) > self._checked_below:
            self.check_value(function_id, value, value_json)
        return value, value_json

    @functools.cached_property
    def _checked_below(self) -> int:
        """JSON this short passes ``check_value`` whatever it holds (it cannot nest deeper)."""
        return min(self.limits.max_payload_bytes, 2 * self.limits.max_json_depth)

    def check_value(self, function_id: str, value: Any, value_json: bytes) -> None:
        limits = self.limits
        if len(value_json) > limits.max_payload_bytes:
            raise deserialization_error(
                function_id,
                f"`data` is {len(value_json)} bytes of JSON; "
                f"the limit is {limits.max_payload_bytes} (max_payload_bytes)",
            )
        # nesting deeper than N needs at least 2N bytes, so small values skip the walk
        if len(value_json) > 2 * limits.max_json_depth and codec.nesting_depth(value) > limits.max_json_depth:
            raise deserialization_error(
                function_id, f"`data` nests deeper than {limits.max_json_depth} levels (max_json_depth)"
            )

    def _draft(self, req: Any) -> EventDraft:
        return EventDraft(
            req.stream_name, req.group_id, req.item_id, self.clock.next(req.stream_name, req.group_id)
        )

    def _store(self, op: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the adapter; its failures become the iii ``STREAM_*_ERROR`` of ``op``."""
        try:
            return method(*args, **kwargs)
        except InvocationError:
            raise
        except Exception as exc:
            raise _failed(op, exc) from exc

    def _custom(self, op: str, stream_name: str) -> str | None:
        """The custom function serving ``op`` of a stream, if any; the layouts of dashboards
        are always the engine's own, whatever a worker registers under their name."""
        function_id = custom_function_id(op, stream_name)
        if function_id in self.functions and stream_name != inputs.LAYOUT_STREAM:
            return function_id
        return None

    def _call_custom(self, function_id: str, payload: dict[str, Any], op: str) -> Any:
        code, what = _ERRORS[op]

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

    def _custom_done(self, op: str, req: Any, result: Any) -> Any:
        """Check a custom set/delete/update result, then publish its event (spec §5.3)."""
        code, what = _ERRORS[op]
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
        if op == "delete" and old is None:
            return {"old_value": None}
        with self.lock:
            draft = self._draft(req)
            if op == "delete":
                event = draft.event(DELETE, old)
            else:
                event = draft.event(CREATE if old is None else UPDATE, result["new_value"])
            try:
                self.adapter.emit(event)
            except Exception:
                log.exception("publishing %r failed; the write itself succeeded", event)
        self._after(event)
        return result

    def _after(self, event: Event) -> None:
        """Deliver what the write published, then start matching ``stream`` triggers."""
        self.hub.drain()
        matching = self.triggers.matching(STREAM, event.stream_name, event.group_id, event.item_id)
        if matching:
            self._spawn(self.triggers.run_stream(matching, codec.loads(event.frame)))

    def _after_many(self, events: builtins.list[Event]) -> None:
        """``_after`` for the events of one step (a bulk write, evictions)."""
        self.hub.drain()
        if not events or not self.triggers.has(STREAM):
            return
        for event in events:
            matching = self.triggers.matching(STREAM, event.stream_name, event.group_id, event.item_id)
            if matching:
                self._spawn(self.triggers.run_stream(matching, codec.loads(event.frame)))

    # -- many rows at once ---------------------------------------------------------------

    def set_many(
        self,
        stream_name: str,
        group_id: str,
        item_ids: builtins.list[str],
        values_json: builtins.list[bytes],
        *,
        delete_missing: bool = False,
    ) -> BulkResult:
        """Write many items of one group in one step: one lock, one timestamp, and events for
        the rows that changed only (and for the items deleted with ``delete_missing``).

        ``values_json`` must be compact JSON made by ``codec`` (it is stored as it is); ids
        and values are checked against the limits before anything is written.
        """
        function_id = "stream::set"
        inputs.group_ref(function_id, {"stream_name": stream_name, "group_id": group_id}, self.limits)
        inputs.writable_stream(function_id, stream_name)
        inputs.item_ids(function_id, item_ids, self.limits)
        self.check_values(function_id, values_json)
        adapter = self._retaining("bulk writes")
        with self.lock:
            listening = bool(self.hub.counts().get((stream_name, group_id))) or self.triggers.has(STREAM)
            result = self._store(
                "set",
                adapter.set_many,
                stream_name,
                group_id,
                self.clock.next(stream_name, group_id),
                item_ids,
                values_json,
                delete_missing=delete_missing,
                events=listening,
            )
        self._after_many(result.events)
        return result

    def check_values(self, function_id: str, values_json: builtins.list[bytes]) -> None:
        """``check_value`` for many values; only those that could break a limit are decoded."""
        if not values_json:
            return
        if max(map(len, values_json)) > self._checked_below:
            for value_json in values_json:
                if len(value_json) > self._checked_below:
                    self.check_value(function_id, codec.loads(value_json), value_json)

    def supports_bulk(self, stream_name: str) -> bool:
        """True when ``set_many`` serves this stream (not a custom stream, a capable adapter)."""
        return not self.is_custom(stream_name) and callable(getattr(self.adapter, "set_many", None))

    # -- retention -----------------------------------------------------------------------

    def retain(self, stream_name: str, group_id: str | None, policy: Retention | None) -> int:
        """Bound a group, or every group of a stream (``group_id`` None); None removes the
        bound. Applies at once: returns how many items were evicted."""
        if group_id is None:
            inputs.stream_name("retain", {"stream_name": stream_name}, self.limits)
        else:
            inputs.group_ref("retain", {"stream_name": stream_name, "group_id": group_id}, self.limits)
        if self.is_custom(stream_name):
            raise ValueError(
                f"stream {stream_name!r} is served by custom functions; they keep their own data"
            )
        adapter = self._retaining("retention")
        with self.lock:
            evicted = adapter.retain(stream_name, group_id, policy, self.clock.next)
        self._after_many(evicted)
        if self._sweeper is not None:
            self._sweeper.wake()
        return len(evicted)

    def start_retention(self, policies: dict[str, Retention]) -> None:
        """Apply the configured per-stream policies and start sweeping for expired items."""
        if not callable(getattr(self.adapter, "expire", None)):
            if policies:
                raise ValueError(f"the adapter {self.adapter!r} does not support retention")
            return
        for stream_name, policy in policies.items():
            self.retain(stream_name, None, policy)
        self._sweeper = Sweeper(self._sweep)
        self._sweeper.start()

    def stop_retention(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None

    def _sweep(self) -> float:
        """Evict what expired; returns the seconds until the next sweep."""
        adapter: RetainingAdapter = self.adapter  # type: ignore[assignment]
        with self.lock:
            evicted = adapter.expire(self.clock.next)
        self._after_many(evicted)
        return sweep_interval(adapter.policies())

    def _retaining(self, what: str) -> RetainingAdapter:
        if not callable(getattr(self.adapter, "retain", None)):
            raise ValueError(f"the adapter {self.adapter!r} does not support {what}")
        return self.adapter  # type: ignore[return-value]


def _failed(op: str, exc: Exception) -> InvocationError:
    """An adapter's failure as the iii ``STREAM_*_ERROR`` of ``op``."""
    code, what = _ERRORS[op]
    return InvocationError(code, f"{what}: {exc}")


def _plain(value: Any) -> Any:
    return None if value is MISSING else value


def _ref(req: Any) -> dict[str, Any]:
    ref = {"stream_name": req.stream_name, "group_id": req.group_id}
    if hasattr(req, "item_id"):
        ref["item_id"] = req.item_id
    return ref


def _keyed(values: list[Any]) -> dict[str, Any]:
    return {
        str(value["id"]) if isinstance(value, dict) and "id" in value else str(index): value
        for index, value in enumerate(values)
    }
