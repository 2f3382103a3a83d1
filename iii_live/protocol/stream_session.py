"""One stream-port connection, without I/O: its subscriptions, joins and leaves (spec §1.5, §1.6).

A transport creates a ``StreamSession`` when a socket opens, feeds it every text or binary
frame with ``receive()``, and calls ``close()`` when the socket goes. The session applies
the policy (names within bounds, a cap on subscriptions per connection, ``stream:join``
vetoes, ``stream:leave`` triggers) and writes through the ``send`` callable it was given:
a list of frames, once per event-loop turn, in order.

Frames a client sends that are not a valid join or leave are ignored, as the iii engine
does; the connection stays open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..core import StreamCore
from ..errors import InvocationError
from ..limits import Limits
from ..streams.hub import Subscription
from ..streams.inputs import check_name
from ..streams.triggers import LEAVE
from .stream_wire import JOIN, Event, decode_client_message

log = logging.getLogger("iii_live.protocol")

Send = Callable[[list[bytes]], None]
"""Writes frames to the peer, in order (one call per event-loop turn)."""
Encode = Callable[[Event], bytes]
"""The bytes a transport writes for an event (e.g. a cached WebSocket text frame)."""


class StreamSession:
    """A hub subscriber on the loop: events arrive by ``deliver``, leave by ``flush``."""

    __slots__ = ("core", "send", "encode", "context", "keyed", "subscriptions", "_pending", "closed")
    on_loop = True

    def __init__(
        self,
        core: StreamCore,
        send: Send,
        *,
        context: Any = None,
        keyed: bool = False,
        encode: Encode = lambda event: event.frame,
    ) -> None:
        self.core = core
        self.send = send
        self.encode = encode
        self.context = context
        """What ``auth_function`` returned as ``context``; rides on every join and leave."""
        self.keyed = keyed
        """``?sync=keyed``: group syncs carry ``{item_id: value}`` (an iii-live extension)."""
        self.subscriptions: dict[str, Subscription] = {}
        self._pending: list[bytes] = []
        self.closed = False

    def __repr__(self) -> str:
        return f"<StreamSession subs={len(self.subscriptions)}>"

    # -- from the peer -------------------------------------------------------------------

    async def receive(self, raw: str | bytes) -> None:
        """Handle one client frame: a join or a leave; anything else is ignored."""
        try:
            message = decode_client_message(raw)
        except ValueError as exc:
            log.debug("ignoring client frame: %s", exc)
            return
        args = (message.subscription_id, message.stream_name, message.group_id, message.item_id)
        if message.type == JOIN:
            await self.join(*args)
        else:
            await self.leave(*args)

    async def join(self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None) -> None:
        core = self.core
        reason = _refusal(subscription_id, stream_name, group_id, item_id, core.limits)
        if reason is None and subscription_id not in self.subscriptions:
            limit = core.limits.max_subscriptions_per_connection
            if len(self.subscriptions) >= limit:
                reason = (
                    f"too many subscriptions on this connection (max_subscriptions_per_connection={limit})"
                )
        if reason is not None:
            self._answer(core.unauthorized(stream_name, group_id, item_id, reason))
            return
        payload = self._trigger_payload(subscription_id, stream_name, group_id, item_id)
        if await core.triggers.run_join(stream_name, group_id, payload):
            self._answer(core.unauthorized(stream_name, group_id, item_id))
            return
        if self.closed:
            return
        previous = self.subscriptions.pop(subscription_id, None)
        if previous is not None:
            core.unsubscribe(previous)
        subscription = Subscription(self, stream_name, group_id, item_id, subscription_id, keyed=self.keyed)
        self.subscriptions[subscription_id] = subscription
        try:
            await core.subscribe_async(subscription)
        except InvocationError as exc:
            log.error("sync for %s/%s failed: %s", stream_name, group_id, exc)
        if self.closed:  # the socket went while the snapshot was read
            core.unsubscribe(subscription)

    async def leave(self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None) -> None:
        payload = self._trigger_payload(subscription_id, stream_name, group_id, item_id)
        await self.core.triggers.run_leave(stream_name, group_id, payload)
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is not None:
            self.core.unsubscribe(subscription)

    def close(self) -> None:
        """The transport is gone: drop every subscription, then fire their leave triggers."""
        self.closed = True
        self._pending.clear()
        remaining = list(self.subscriptions.values())
        self.subscriptions.clear()
        for subscription in remaining:
            self.core.unsubscribe(subscription)
        if remaining and self.core.triggers.has(LEAVE):
            self.core.spawn(self._leave_all(remaining))

    async def _leave_all(self, subscriptions: list[Subscription]) -> None:
        for s in subscriptions:
            payload = self._trigger_payload(s.subscription_id, s.stream_name, s.group_id, s.item_id)
            await self.core.triggers.run_leave(s.stream_name, s.group_id, payload)

    def _trigger_payload(
        self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None
    ) -> dict[str, Any]:
        """The ``stream:join`` / ``stream:leave`` payload (spec §1.10)."""
        return {
            "subscription_id": subscription_id,
            "stream_name": stream_name,
            "group_id": group_id,
            "id": item_id,
            "context": self.context,
        }

    # -- to the peer (hub subscriber) ----------------------------------------------------

    def deliver(self, event: Event) -> None:
        self._pending.append(self.encode(event))

    def flush(self) -> None:
        pending = self._pending
        if not pending or self.closed:
            return
        self._pending = []
        self.send(pending)

    def _answer(self, event: Event) -> None:
        """Send one message outside the hub (a refused join's ``unauthorized``)."""
        self.deliver(event)
        self.flush()


def _refusal(
    subscription_id: str, stream_name: str, group_id: str, item_id: str | None, limits: Limits
) -> str | None:
    """Why a join's names are refused (empty, too long, control characters), or None."""
    named = (
        ("subscriptionId", subscription_id),
        ("streamName", stream_name),
        ("groupId", group_id),
        ("id", item_id),
    )
    try:
        for key, value in named:
            if value is not None:
                check_name(key, value, ValueError, limits.max_name_length)
    except ValueError as exc:
        return str(exc)
    return None
