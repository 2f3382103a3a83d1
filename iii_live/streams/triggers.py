"""The ``stream``, ``stream:join`` and ``stream:leave`` trigger types (spec §1.10, §3).

``stream`` triggers match on ``stream_name`` (required), and optionally ``group_id`` and
``item_id``; an optional ``condition_function_id`` returning ``false`` skips the handler.
Join and leave triggers fire for every join and leave, as in iii; beyond iii, a
``stream_name`` or ``group_id`` in their config narrows them to that stream or group.
A join handler that returns ``{"unauthorized": true}`` vetoes the join.

Trigger ids are scoped to their owner (a worker, or the engine itself): a worker that
registers an id another worker uses gets its own trigger and leaves the other's alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvocationError
from ..functions import resolve

log = logging.getLogger("iii_live.triggers")

STREAM, JOIN, LEAVE = "stream", "stream:join", "stream:leave"
TRIGGER_TYPES = (STREAM, JOIN, LEAVE)

Invoke = Callable[[str, Any], Any]
"""Calls a function by id: returns its result or an awaitable of it."""


@dataclass(eq=False, slots=True)
class Trigger:
    id: str
    type: str
    function_id: str
    config: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    metadata: Any = None
    registry: TriggerRegistry | None = field(default=None, repr=False)

    def matches(self, stream_name: str, group_id: str, item_id: str | None) -> bool:
        config = self.config
        if config.get("stream_name") and config["stream_name"] != stream_name:
            return False
        if config.get("group_id") and config["group_id"] != group_id:
            return False
        if self.type == STREAM and config.get("item_id") and config["item_id"] != (item_id or ""):
            return False
        return True

    def unregister(self) -> None:
        """Remove this trigger from the engine."""
        if self.registry is not None:
            self.registry.unregister(self.id, self.owner)


class TriggerRegistry:
    def __init__(self, invoke: Invoke) -> None:
        self._invoke = invoke
        self._triggers: dict[tuple[str | None, str], Trigger] = {}
        """By (owner, trigger id), in registration order."""

    def register(
        self,
        trigger_type: str,
        function_id: str,
        config: dict[str, Any] | None = None,
        *,
        trigger_id: str | None = None,
        owner: str | None = None,
        metadata: Any = None,
    ) -> Trigger:
        """Validate and add a trigger (replacing ``owner``'s trigger of the same id); raises
        ValueError with a message for the caller."""
        if trigger_id is not None and (not isinstance(trigger_id, str) or not trigger_id):
            raise ValueError(f"a trigger id must be a non-empty string, not {trigger_id!r:.80}")
        if trigger_type not in TRIGGER_TYPES:
            raise ValueError(
                f"unknown trigger type {trigger_type!r:.80}; this engine serves "
                + ", ".join(repr(t) for t in TRIGGER_TYPES)
            )
        if not isinstance(function_id, str) or not function_id:
            raise ValueError("trigger function_id must be a non-empty string")
        config = {} if config is None else config
        if not isinstance(config, dict):
            raise ValueError(f"trigger config must be an object, not {type(config).__name__}")
        for key in ("stream_name", "group_id", "item_id", "condition_function_id"):
            if config.get(key) is not None and not isinstance(config[key], str):
                raise ValueError(f"trigger config `{key}` must be a string")
        if trigger_type == STREAM and not config.get("stream_name"):
            raise ValueError("a `stream` trigger needs config.stream_name")
        trigger = Trigger(
            trigger_id or str(uuid.uuid4()), trigger_type, function_id, config, owner, metadata, self
        )
        self._triggers[(owner, trigger.id)] = trigger
        return trigger

    def unregister(self, trigger_id: str, owner: str | None = None) -> bool:
        """Remove the trigger ``owner`` (None: the engine itself) registered as ``trigger_id``."""
        return self._triggers.pop((owner, trigger_id), None) is not None

    def remove_owned_by(self, owner: str) -> int:
        owned = [key for key, t in self._triggers.items() if t.owner == owner]
        for key in owned:
            del self._triggers[key]
        return len(owned)

    def has(self, trigger_type: str) -> bool:
        return any(t.type == trigger_type for t in self._triggers.values())

    def all(self) -> list[Trigger]:
        return list(self._triggers.values())

    def matching(
        self, trigger_type: str, stream_name: str, group_id: str, item_id: str | None
    ) -> list[Trigger]:
        """Matching triggers in registration order."""
        if not self._triggers:
            return []
        return [
            t
            for t in self._triggers.values()
            if t.type == trigger_type and t.matches(stream_name, group_id, item_id)
        ]

    # -- running -------------------------------------------------------------------

    async def run_stream(self, triggers: list[Trigger], payload: dict[str, Any]) -> None:
        """Run matching ``stream`` triggers one after another; failures are only logged."""
        for trigger in triggers:
            condition = trigger.config.get("condition_function_id")
            if condition:
                try:
                    if await resolve(self._invoke(condition, payload)) is False:
                        continue
                except InvocationError as exc:
                    log.error("condition %s of trigger %s failed: %s", condition, trigger.id, exc)
                    continue
            await self._call_logged(trigger, payload)

    async def run_join(self, stream_name: str, group_id: str, payload: dict[str, Any]) -> bool:
        """Run join triggers; True when one of them vetoed the join."""
        unauthorized = False
        for trigger in self.matching(JOIN, stream_name, group_id, payload.get("id")):
            result = await self._call_logged(trigger, payload)
            if isinstance(result, dict) and "unauthorized" in result:
                flag = result["unauthorized"]
                if flag is True:
                    unauthorized = True
                elif not isinstance(flag, bool):
                    log.error("join trigger %s returned a non-boolean `unauthorized`", trigger.id)
        return unauthorized

    async def run_leave(self, stream_name: str, group_id: str, payload: dict[str, Any]) -> None:
        for trigger in self.matching(LEAVE, stream_name, group_id, payload.get("id")):
            await self._call_logged(trigger, payload)

    async def _call_logged(self, trigger: Trigger, payload: dict[str, Any]) -> Any:
        try:
            return await resolve(self._invoke(trigger.function_id, payload))
        except InvocationError as exc:
            log.error("trigger %s (%s) failed: %s", trigger.id, trigger.function_id, exc)
            return None
