"""Workers connected to the engine port: what they host and the calls in flight to them.

A worker built with an official iii SDK registers functions and triggers; they join the
engine's registries owned by the worker, so the notebook, other workers and stream
triggers reach them like any other function. When the worker goes away its functions
and triggers go with it and calls still waiting fail with ``invocation_stopped``; the
SDK replays its registrations when it reconnects.

Each worker is handed a secret ``reattach_token`` on its own connection; a reconnecting
SDK presents it to retire its previous connection, so knowing a worker's id (which other
workers see as ``_caller_worker_id``) is not enough to take its place. Calls to a worker
are bounded: they fail with ``TIMEOUT`` when it does not answer within
``worker_invocation_timeout_ms``, and at once with ``worker_busy`` when it already holds
``max_invocations_per_worker`` unanswered calls.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvocationError
from .functions import FunctionRegistry
from .limits import DEFAULT_LIMITS, Limits
from .streams.triggers import TriggerRegistry

log = logging.getLogger("iii_live.workers")

SendInvocation = Callable[[str, str, Any], None]
"""Asks the worker to run ``function_id`` with ``data`` as ``invocation_id`` (on the engine loop)."""
Close = Callable[[str], None]
"""Closes the worker's socket with 1001 (going away) and the reason given."""


@dataclass(eq=False)
class Worker:
    worker_id: str
    send_invocation: SendInvocation
    close: Close
    peer: str = ""
    limits: Limits = DEFAULT_LIMITS
    reattach_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """Sent only to this worker's own connection; proves a reconnection is this worker."""
    connected_at: float = field(default_factory=time.time)
    info: dict[str, Any] = field(default_factory=dict)
    """What the SDK said of itself in ``engine::workers::register`` (name, runtime, ...)."""
    _pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    closed: bool = False

    @property
    def name(self) -> str:
        return str(self.info.get("name") or self.worker_id)

    async def invoke(self, function_id: str, data: Any) -> Any:
        """Call a function this worker hosts and wait for its ``invocationresult``."""
        if self.closed:
            raise InvocationError(
                "invocation_stopped", f"worker {self.name} disconnected", function_id=function_id
            )
        limit = self.limits.max_invocations_per_worker
        if len(self._pending) >= limit:
            raise InvocationError(
                "worker_busy",
                f"worker {self.name} has {limit} calls unanswered, the most it may hold "
                f"(max_invocations_per_worker); {function_id} was not sent",
                function_id=function_id,
            )
        invocation_id = str(uuid.uuid4())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[invocation_id] = future
        timeout_ms = self.limits.worker_invocation_timeout_ms
        try:
            self.send_invocation(invocation_id, function_id, data)
            return await asyncio.wait_for(future, timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise InvocationError(
                "TIMEOUT",
                f"worker {self.name} did not answer {function_id} within {timeout_ms} ms "
                "(worker_invocation_timeout_ms)",
                function_id=function_id,
            ) from None
        finally:
            self._pending.pop(invocation_id, None)

    @property
    def calls_in_flight(self) -> int:
        return len(self._pending)

    def settle(self, invocation_id: str, outcome: Any) -> None:
        """Settle a call in flight with its result, or with an InvocationError."""
        future = self._pending.get(invocation_id)
        if future is None or future.done():
            return
        if isinstance(outcome, InvocationError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def stop_pending(self) -> None:
        self.closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(
                    InvocationError("invocation_stopped", f"worker {self.name} disconnected during the call")
                )
        self._pending.clear()


class WorkerRegistry:
    def __init__(self, functions: FunctionRegistry, triggers: TriggerRegistry) -> None:
        self.functions = functions
        self.triggers = triggers
        self._workers: dict[str, Worker] = {}

    def connect(
        self, send_invocation: SendInvocation, close: Close, peer: str = "", limits: Limits = DEFAULT_LIMITS
    ) -> Worker:
        worker = Worker(str(uuid.uuid4()), send_invocation, close, peer, limits)
        self._workers[worker.worker_id] = worker
        return worker

    def reattach(self, worker: Worker, previous_id: str, token: Any) -> None:
        """``worker`` is ``previous_id`` reconnected: retire that connection if ``token`` proves it.

        A wrong or missing token leaves the previous worker untouched.
        """
        previous = self._workers.get(previous_id)
        if previous is None or previous is worker:
            return
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode(), previous.reattach_token.encode()
        ):
            log.warning(
                "worker %s from %s: reattach to worker %s refused (wrong reattach_token)",
                worker.worker_id,
                worker.peer,
                previous_id,
            )
            return
        self.disconnect(previous)
        previous.close("replaced by its reconnection")
        log.info("worker %s reconnected as %s", previous_id, worker.worker_id)

    def disconnect(self, worker: Worker) -> None:
        """Forget a worker: its functions, its triggers, and the calls waiting on it."""
        if self._workers.pop(worker.worker_id, None) is None:
            return
        for function_id in self.functions.owned_by(worker.worker_id):
            self.functions.unregister(function_id, owner=worker.worker_id)
        self.triggers.remove_owned_by(worker.worker_id)
        worker.stop_pending()
        log.info("worker %s disconnected", worker.name)

    def close_all(self) -> None:
        """Engine shutdown: close every worker socket and forget the workers."""
        for worker in list(self._workers.values()):
            self.disconnect(worker)
            worker.close("engine stopping")

    def get(self, worker_id: str) -> Worker | None:
        return self._workers.get(worker_id)

    def register_function(
        self, worker: Worker, function_id: str, description: str | None = None
    ) -> str | None:
        """Host ``function_id`` on ``worker``; returns an error message if the id is taken."""
        existing = self.functions.get(function_id)
        if existing is not None and existing.owner != worker.worker_id:
            owner = "this engine" if existing.owner is None else f"worker {existing.owner}"
            return f"function {function_id} is already registered by {owner}"

        async def invoke(data: Any) -> Any:
            return await worker.invoke(function_id, data)

        self.functions.register(function_id, invoke, owner=worker.worker_id, description=description)
        return None

    def describe(self) -> list[dict[str, Any]]:
        """Connected workers with what they host, for ``engine.workers``."""
        return [
            {
                "worker_id": w.worker_id,
                "name": w.name,
                "runtime": w.info.get("runtime"),
                "version": w.info.get("version"),
                "pid": w.info.get("pid"),
                "peer": w.peer,
                "connected_at": w.connected_at,
                "functions": sorted(self.functions.owned_by(w.worker_id)),
                "calls_in_flight": w.calls_in_flight,
                "triggers": [
                    {"id": t.id, "type": t.type, "function_id": t.function_id, "config": t.config}
                    for t in self.triggers.all()
                    if t.owner == w.worker_id
                ],
            }
            for w in self._workers.values()
        ]
