"""One stream-port connection, without I/O: its subscriptions, joins and leaves (spec §1.5, §1.6),
and what it sends a reader that falls behind.

A transport creates a ``StreamSession`` when a socket opens, feeds it every text or binary
frame with ``receive()``, and calls ``close()`` when the socket goes. The session applies
the policy (names within bounds, a cap on subscriptions per connection, ``stream:join``
vetoes, ``stream:leave`` triggers) and writes through its ``Transport``: a list of frames,
once per event-loop turn, in order.

Joins and leaves run concurrently, so a join whose ``stream:join`` handler is slow holds up
no other subscription of the socket; frames about one subscription id keep their order.

A reader that falls behind is not cut off: once more than ``conflate_at`` bytes wait in
its transport, item changes are held (the latest per item, since each ``create``/``update``
carries the whole item) and sent when the transport drains, ephemeral ``stream::send``
events are dropped and counted; syncs still go out at once (the transport's hard cap bounds
them). A reader that keeps reading, at any speed, ends with the exact state; one that keeps
up gets every frame, each group's in write order. (While a reader is behind, a change held
from before a new sync may follow that sync: it carries the value the sync already holds.)

A connection may opt in to resuming (``?resume=1``, or ``"resume": true`` in a join's
``data``; an iii-live extension): its frames then carry ``seq`` and ``epoch``, and a join
whose ``data`` has ``"since": {"seq": N, "epoch": E}`` gets the events it missed, after an
``event`` of type ``iii-live:resumed`` marked ``"recovered": true``, when the group's history
still holds them; otherwise a sync marked ``"recovered": false``. Frames of other clients
are iii's, byte for byte.

A connection may also look at large groups through windows (``{"type": "window"}`` frames,
an iii-live extension served by ``ViewportSession``): it gets the rows or chart points it
shows rather than the whole group.

A connection may open live views over the groups it may join (``{"type": "view"}``
frames, an iii-live extension served by ``ViewRequests``): ``{"type": "view", "data":
{"viewId": H, "req": R, "streamName", "groupId", "spec": {...} or null}}`` opens, replaces
or closes the view of handle ``H``, after the group's ``stream:join`` triggers (a veto
refuses it), and is answered with the derived group to follow or an error naming the
wrong part of the spec. Requests are handled one at a time, in order, off the loop; the
views close with the connection. A connection whose joins are narrowed (``may_join``: a
dashboard viewer) opens none.

Frames a client sends that are not a valid join, leave, window or view are ignored, as the
iii engine does; the connection stays open.

A transport may narrow what a connection joins with ``may_join(stream_name, group_id)``,
which returns why a join is refused (answered ``unauthorized`` with that reason) or None:
a dashboard viewer joins only the groups its dashboard shows.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from .. import codec
from ..core import StreamCore
from ..errors import InvocationError
from ..limits import Limits
from ..streams.hub import Subscription
from ..streams.inputs import check_name
from ..streams.subscriptions import Since
from ..streams.triggers import LEAVE
from ..views import base_groups
from .stream_wire import CHANGE_KINDS, EVENT, JOIN, ClientMessage, Event, decode_client_message
from .view_requests import MAX_PAGE_VIEWS, OWNER_PART, VIEW, ViewRequests, error_answer, request_error
from .viewport_session import RawFrame, ViewportSession

log = logging.getLogger("iii_live.protocol")

Encode = Callable[[Event], bytes]
"""The bytes a transport writes for an event (e.g. a cached WebSocket text frame)."""
JoinPolicy = Callable[[str, str], str | None]
"""Why a connection may not join ``(stream_name, group_id)``, or None when it may."""
CONFLATE_AT = 1024 * 1024
"""Default bytes waiting in the transport past which item changes are conflated."""


class Transport(Protocol):
    """Where a session's frames go."""

    def send(self, frames: list[bytes]) -> None:
        """Write frames to the peer, in order."""

    def buffered(self) -> int:
        """Bytes written but not yet taken by the peer's socket."""

    def send_now(self, frame: bytes) -> bool:
        """Write ``frame`` when nothing is queued before it; False, writing nothing, otherwise."""

    def when_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once everything written so far has left (not if the peer goes)."""


class StreamSession:
    """A hub subscriber on the loop: events arrive by ``deliver``, leave by ``flush``."""

    on_loop = True

    def __init__(
        self,
        core: StreamCore,
        transport: Transport,
        *,
        context: Any = None,
        keyed: bool = False,
        encode: Encode = lambda event: event.frame,
        encode_resumable: Encode = lambda event: event.resume_frame,
        resume: bool = False,
        conflate_at: int = CONFLATE_AT,
        may_join: JoinPolicy | None = None,
    ) -> None:
        self.core = core
        self.transport = transport
        self._encode_resumable = encode_resumable
        self.encode = encode_resumable if resume else encode
        self.resume = resume
        """Frames carry each event's place in its group's history; joins may resume."""
        self.conflate_at = conflate_at
        self.context = context
        """What ``auth_function`` returned as ``context``; rides on every join and leave."""
        self.may_join = may_join
        self.keyed = keyed
        """``?sync=keyed``: group syncs carry ``{item_id: value}`` (an iii-live extension)."""
        self.subscriptions: dict[str, Subscription] = {}
        self.closed = False
        self._pending: list[Event] = []
        self._held: dict[tuple[str, str, str | None], Event] | None = None
        """While conflating: the latest change per item, in the order of those changes."""
        self.conflated = 0
        """Item changes folded into a later one while this reader was behind."""
        self.dropped = 0
        """``stream::send`` events not sent while this reader was behind."""
        self._handling: dict[str, asyncio.Future[None]] = {}
        self._joining: dict[str, None] = {}
        """Subscription ids whose joins are under way (dicts as sets: an empty one is a
        third of an empty set's size, and every idle connection holds these)."""
        self._viewports: ViewportSession | None = None
        self._views: ViewRequests | None = None
        self._view_turn: asyncio.Lock | None = None
        self._view_requests: dict[asyncio.Future[None], None] = {}

    # Made at a connection's first window or view request: most connections never make one,
    # and at 10,000 idle subscribers every connection's bytes count.

    @property
    def viewports(self) -> ViewportSession:
        """The windows this connection looks through (the viewport protocol)."""
        if self._viewports is None:
            self._viewports = ViewportSession(self.core, self.transport, self.encode, self.conflate_at)
        return self._viewports

    @property
    def views(self) -> ViewRequests:
        """The live views this connection opened (closed with it)."""
        if self._views is None:
            self._views = ViewRequests(self.core.views.open_for_page, self.core.adapter.count)
        return self._views

    @property
    def view_turn(self) -> asyncio.Lock:
        """View requests are handled one at a time, in the order they came."""
        if self._view_turn is None:
            self._view_turn = asyncio.Lock()
        return self._view_turn

    def __repr__(self) -> str:
        return f"<StreamSession subs={len(self.subscriptions)}>"

    # -- from the peer -------------------------------------------------------------------

    async def receive(self, raw: str | bytes) -> None:
        """Take one client frame: a join or a leave (started, not awaited); anything else is ignored."""
        try:
            message = decode_client_message(raw)
        except ValueError as exc:
            if self.viewports.receive(raw):
                return
            if not self._view_request(raw):
                log.debug("ignoring client frame: %s", exc)
            elif len(self._view_requests) > MAX_PAGE_VIEWS:  # a flood waits: the socket stops being read
                await asyncio.wait(list(self._view_requests), return_when=asyncio.FIRST_COMPLETED)
            return
        await self.submit(message)

    def _view_request(self, raw: str | bytes) -> bool:
        """Take a client frame if it is a view request (True); others are not for us."""
        try:
            message = codec.loads(raw.encode() if isinstance(raw, str) else raw)
        except (codec.JSONDecodeError, RecursionError):
            return False
        if not isinstance(message, dict) or message.get("type") != VIEW:
            return False
        task = asyncio.ensure_future(self._view(message.get("data")))
        self._view_requests[task] = None
        task.add_done_callback(self._view_handled)
        return True

    def _view_handled(self, task: asyncio.Future[None]) -> None:
        self._view_requests.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("a view request of %r failed", self, exc_info=task.exception())

    async def _view(self, data: Any) -> None:
        async with self.view_turn:
            if self.closed:
                return
            answer = await self._view_answer(data)
        if not self.closed:
            frame = cast(Event, RawFrame(codec.dumps(answer)))  # encoded as an event's frame is
            self.transport.send([self.encode(frame)])

    async def _view_answer(self, data: Any) -> dict[str, Any]:
        unusable = request_error(data, self.core.limits.max_name_length)
        if unusable is not None:
            return unusable
        handle, req, spec = data["viewId"], data.get("req"), data.get("spec")
        stream_name, group_id = data["streamName"], data["groupId"]
        if self.may_join is not None:
            return error_answer(handle, req, OWNER_PART, "this connection opens no views")
        if spec is not None and await self._vetoed(handle, stream_name, group_id, None):
            refused = f"a stream:join trigger refused {stream_name}/{group_id}"
            return error_answer(handle, req, OWNER_PART, refused)
        request = functools.partial(self.views.request, handle, stream_name, group_id, spec, req)
        return cast(dict[str, Any], await self.core.offload(request))

    async def submit(self, message: ClientMessage) -> None:
        """Start handling a join or a leave (a frame, or the subscription a URL names)."""
        key = message.subscription_id
        handling = asyncio.ensure_future(self._handle(message, self._handling.get(key)))
        self._handling[key] = handling
        handling.add_done_callback(lambda done: self._handled(key, done))
        if len(self._handling) > self.core.limits.max_subscriptions_per_connection:
            await asyncio.wait([handling])  # a flood of frames waits here: the socket stops being read

    async def _handle(self, message: ClientMessage, before: asyncio.Future[None] | None) -> None:
        if before is not None:  # the same subscription id: in the order the client sent them
            await asyncio.wait([before])
        args = (message.subscription_id, message.stream_name, message.group_id, message.item_id)
        if message.type == JOIN:
            await self.join(*args, options=message.data)
        else:
            await self.leave(*args)

    def _handled(self, key: str, done: asyncio.Future[None]) -> None:
        if self._handling.get(key) is done:
            del self._handling[key]
        if not done.cancelled() and done.exception() is not None:
            log.error("handling a frame of %r failed", self, exc_info=done.exception())

    async def settled(self) -> None:
        """Wait until every join, leave and view request received so far is done."""
        while self._handling or self._view_requests:
            await asyncio.wait([*self._handling.values(), *self._view_requests])

    async def join(
        self,
        subscription_id: str,
        stream_name: str,
        group_id: str,
        item_id: str | None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Subscribe; ``options`` is the join's ``data`` (``resume``, ``since``)."""
        core = self.core
        if options and options.get("resume") is True and not self.resume:
            self.resume = True
            self.encode = self._encode_resumable
        reason = _refusal(subscription_id, stream_name, group_id, item_id, core.limits)
        if reason is None and self.may_join is not None:
            reason = self.may_join(stream_name, group_id)
        if reason is None and subscription_id not in self.subscriptions:
            limit = core.limits.max_subscriptions_per_connection
            if len(self.subscriptions.keys() | self._joining.keys()) >= limit:  # joins under way count
                reason = (
                    f"too many subscriptions on this connection (max_subscriptions_per_connection={limit})"
                )
        if reason is not None:
            self._answer(core.unauthorized(stream_name, group_id, item_id, reason))
            return
        self._joining[subscription_id] = None
        try:
            await self._join(subscription_id, stream_name, group_id, item_id, since_of(options))
        finally:
            self._joining.pop(subscription_id, None)

    async def _join(
        self,
        subscription_id: str,
        stream_name: str,
        group_id: str,
        item_id: str | None,
        since: Since | None,
    ) -> None:
        core = self.core
        if await self._vetoed(subscription_id, stream_name, group_id, item_id):
            self._answer(core.unauthorized(stream_name, group_id, item_id))
            return
        if self.closed:
            return
        previous = self.subscriptions.pop(subscription_id, None)
        if previous is not None:
            core.unsubscribe(previous)
        subscription = Subscription(
            self, stream_name, group_id, item_id, subscription_id, keyed=self.keyed, resume=self.resume
        )
        self.subscriptions[subscription_id] = subscription
        try:
            await core.subscribe_async(subscription, since if self.resume else None)
        except InvocationError as exc:
            log.error("sync for %s/%s failed: %s", stream_name, group_id, exc)
        finally:
            if self.closed:  # the socket went while the snapshot was read
                core.unsubscribe(subscription)

    async def _vetoed(self, subscription_id: str, stream: str, group: str, item_id: str | None) -> bool:
        """A ``stream:join`` trigger refuses the group, or a group it is a view of (whose
        items its rows show)."""
        asked = [(stream, group, item_id)] + [(s, g, None) for s, g in base_groups(stream, group)]
        for stream_name, group_id, item in asked:
            payload = self._trigger_payload(subscription_id, stream_name, group_id, item)
            if await self.core.triggers.run_join(stream_name, group_id, payload):
                return True
        return False

    async def leave(self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None) -> None:
        payload = self._trigger_payload(subscription_id, stream_name, group_id, item_id)
        await self.core.triggers.run_leave(stream_name, group_id, payload)
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is not None:
            self.core.unsubscribe(subscription)

    def close(self) -> None:
        """The transport is gone: drop every subscription, then fire their leave triggers."""
        self.closed = True
        if self._viewports is not None:
            self._viewports.close()
        if self._view_requests or (self._views is not None and len(self._views)):
            self.core.spawn(self.core.offload(self.views.close))  # closing writes: off the loop
        self._pending.clear()
        self._held = None
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
        self._pending.append(event)

    def deliver_and_flush(self, event: Event) -> None:
        """The hub's steady case: straight to the transport while nothing waits before it."""
        if (
            self._pending
            or self._held is not None
            or self.closed
            or not self.transport.send_now(self.encode(event))
        ):
            self._pending.append(event)
            self.flush()

    def flush(self) -> None:
        """Send what was delivered this loop turn, or hold it while the reader is behind."""
        pending = self._pending
        if not pending or self.closed:
            return
        self._pending = []
        if self._held is None and self.transport.buffered() > self.conflate_at:
            self._held = {}
            self.transport.when_drained(self._drained)
        encode = self.encode
        held = self._held
        if held is None:
            self.transport.send([encode(pending[0])] if len(pending) == 1 else [encode(e) for e in pending])
            return
        now: list[bytes] = []
        for event in pending:
            if event.kind in CHANGE_KINDS:
                key = (event.stream_name, event.group_id, event.item_id)
                if held.pop(key, None) is not None:
                    self.conflated += 1
                held[key] = event  # at the end: the order of the latest changes
            elif event.kind == EVENT:
                self.dropped += 1
            else:  # a sync or a refusal
                now.append(encode(event))
        if now:
            self.transport.send(now)

    def _drained(self) -> None:
        """The transport caught up: send the next part of what was held, or go live again."""
        held = self._held
        if held is None or self.closed:
            return
        frames: list[bytes] = []
        size = 0
        while held and size < self.conflate_at:
            frame = self.encode(held.pop(next(iter(held))))
            frames.append(frame)
            size += len(frame)
        if held:
            self.transport.send(frames)
            self.transport.when_drained(self._drained)
            return
        self._held = None
        if frames:
            self.transport.send(frames)

    def _answer(self, event: Event) -> None:
        """Send one message outside the hub (a refused join's ``unauthorized``)."""
        self.deliver(event)
        self.flush()


def since_of(options: dict[str, Any] | None) -> Since | None:
    """``(seq, epoch)`` from a join's ``"since": {"seq": N, "epoch": E}``. A ``since`` that is
    not of that form is one no history holds: the join is answered ``recovered: false``."""
    since = (options or {}).get("since")
    if since is None:
        return None
    seq = since.get("seq") if isinstance(since, dict) else None
    epoch = since.get("epoch") if isinstance(since, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool) and isinstance(epoch, str):
        return seq, epoch
    return -1, ""


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
