"""One connection on the engine port, without I/O: the iii worker protocol (spec §7).

Workers built with the official SDKs speak JSON objects tagged by ``type``. From the worker:
``registerfunction``, ``unregisterfunction``, ``registertrigger``, ``unregistertrigger``,
``invokefunction``, ``invocationresult``, ``reattach``, ``ping``; unknown types and fields
are ignored, as the iii engine does, and so are the binary telemetry frames (``OTLP``,
``MTRC``, ``LOGS``). To the worker: ``workerregistered``, ``pong``, ``invokefunction``,
``invocationresult``, ``registrationrejected``, ``triggerregistrationresult`` — every one
built in this module.

Built-in calls are answered inline, in arrival order; calls that must wait (a function of
another worker, of the notebook) run as tasks, so a worker can serve calls that the engine
makes to it while its own call is in flight.

An ``invocationresult`` carries ``result`` as iii's does: omitted when the function had
nothing to return (a missing item, a function that returned nothing or ``null``: iii reads
a worker's ``"result": null`` as no result), and ``null`` only for the built-ins whose iii
result is the unit value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .. import codec
from ..core import StreamCore
from ..errors import InvocationError
from ..functions import resolve
from ..workers import Close, Worker

log = logging.getLogger("iii_live.workers")

TELEMETRY_PREFIXES = (b"OTLP", b"MTRC", b"LOGS")
WORKER_REGISTER = "engine::workers::register"

UNIT_RESULTS = frozenset({"stream::send"})
"""Built-ins whose iii result is the unit value, which iii sends as ``"result": null``."""

Send = Callable[[dict[str, Any]], None]
"""Writes one message to the worker."""


class WorkerSession:
    def __init__(self, core: StreamCore, send: Send, close: Close, peer: str = "") -> None:
        self.core = core
        self._send = send
        self.worker: Worker = core.workers.connect(self._send_invocation, close, peer, core.limits)
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "ping": self._on_ping,
            "reattach": self._on_reattach,
            "registerfunction": self._on_registerfunction,
            "unregisterfunction": self._on_unregisterfunction,
            "registertrigger": self._on_registertrigger,
            "unregistertrigger": self._on_unregistertrigger,
            "invokefunction": self._on_invokefunction,
            "invocationresult": self._on_invocationresult,
        }

    def open(self) -> None:
        """Greet the worker with its id and the token that lets it reattach after a reconnect."""
        self._send(
            {
                "type": "workerregistered",
                "worker_id": self.worker.worker_id,
                "reattach_token": self.worker.reattach_token,
            }
        )

    def close(self) -> None:
        """The socket is gone: forget the worker, its functions, triggers and calls in flight."""
        self.core.workers.disconnect(self.worker)

    def receive(self, raw: str | bytes) -> None:
        """Handle one frame from the worker."""
        if isinstance(raw, bytes) and raw[:4] in TELEMETRY_PREFIXES:
            return
        try:
            message = codec.loads(raw)
        except (codec.JSONDecodeError, RecursionError):
            log.warning("ignoring a worker frame that is not JSON")
            return
        if not isinstance(message, dict):
            return
        handle = self._handlers.get(message.get("type"))  # type: ignore[arg-type]
        if handle is None:
            return
        try:
            handle(message)
        except Exception:  # a bug must cost this frame, never the connection or the engine
            log.exception("handling a %r message failed", message.get("type"))

    # -- messages from the worker ------------------------------------------------------

    def _on_ping(self, message: dict[str, Any]) -> None:
        self._send({"type": "pong"})

    def _on_reattach(self, message: dict[str, Any]) -> None:
        self.core.workers.reattach(
            self.worker, str(message.get("previous_worker_id")), message.get("reattach_token")
        )

    def _on_registerfunction(self, message: dict[str, Any]) -> None:
        function_id = message.get("id")
        if not isinstance(function_id, str) or not function_id:
            return
        error = self.core.workers.register_function(self.worker, function_id, message.get("description"))
        if error is not None:
            log.warning("worker %s: %s", self.worker.name, error)
            self._send(
                {
                    "type": "registrationrejected",
                    "code": "FUNCTION_NAMESPACE_CONFLICT",
                    "namespace": "default",
                    "function_id": function_id,
                    "owner_worker_id": "",
                    "message": error,
                }
            )

    def _on_unregisterfunction(self, message: dict[str, Any]) -> None:
        self.core.functions.unregister(str(message.get("id")), owner=self.worker.worker_id)

    def _on_registertrigger(self, message: dict[str, Any]) -> None:
        try:
            self.core.triggers.register(
                message.get("trigger_type"),  # type: ignore[arg-type]
                message.get("function_id"),  # type: ignore[arg-type]
                message.get("config"),
                trigger_id=message.get("id"),
                owner=self.worker.worker_id,
                metadata=message.get("metadata"),
            )
        except ValueError as exc:
            self._send(
                {
                    "type": "triggerregistrationresult",
                    "id": message.get("id"),
                    "trigger_type": message.get("trigger_type"),
                    "function_id": message.get("function_id"),
                    "error": {"code": "trigger_registration_failed", "message": str(exc)},
                }
            )

    def _on_unregistertrigger(self, message: dict[str, Any]) -> None:
        self.core.triggers.unregister(str(message.get("id")), owner=self.worker.worker_id)

    def _on_invocationresult(self, message: dict[str, Any]) -> None:
        invocation_id = message.get("invocation_id")
        if not isinstance(invocation_id, str):
            return
        error = message.get("error")
        if error is None:
            self.worker.settle(invocation_id, message.get("result"))
            return
        if not isinstance(error, dict):
            error = {"code": "UNKNOWN", "message": str(error)}
        self.worker.settle(
            invocation_id,
            InvocationError(
                str(error.get("code", "UNKNOWN")),
                str(error.get("message", "")),
                function_id=message.get("function_id"),
                stacktrace=error.get("stacktrace"),
            ),
        )

    def _on_invokefunction(self, message: dict[str, Any]) -> None:
        function_id = message.get("function_id")
        invocation_id = message.get("invocation_id")
        data = message.get("data")
        if function_id == WORKER_REGISTER:
            if isinstance(data, dict):
                self.worker.info = data
            return
        if isinstance(data, dict):
            data = {**data, "_caller_worker_id": self.worker.worker_id}
        try:
            if not isinstance(function_id, str):
                raise InvocationError("deserialization_error", "invokefunction needs a `function_id` string")
            result = self.core.call(function_id, data)
        except InvocationError as exc:
            self._reply(invocation_id, function_id, error=exc)
            return
        if hasattr(result, "__await__"):
            self.core.spawn(self._finish(invocation_id, function_id, result))
        else:
            stored_null = result is None and function_id == "stream::get" and self.core.streams.holds(data)
            self._reply(invocation_id, function_id, result=result, stored_null=stored_null)

    async def _finish(self, invocation_id: Any, function_id: Any, pending: Awaitable[Any]) -> None:
        try:
            result = await resolve(pending)
        except InvocationError as exc:
            self._reply(invocation_id, function_id, error=exc)
        else:
            self._reply(invocation_id, function_id, result=result)

    # -- messages to the worker ----------------------------------------------------------

    def _send_invocation(self, invocation_id: str, function_id: str, data: Any) -> None:
        self._send(
            {
                "type": "invokefunction",
                "invocation_id": invocation_id,
                "function_id": function_id,
                "data": data,
            }
        )

    def _reply(
        self,
        invocation_id: Any,
        function_id: Any,
        *,
        result: Any = None,
        error: InvocationError | None = None,
        stored_null: bool = False,
    ) -> None:
        """``stored_null``: the result is an item stored as JSON null, which iii sends as
        ``"result": null`` (a missing item has no ``result`` key)."""
        if invocation_id is None:
            if error is not None:
                log.warning("void call to %s failed: %s", function_id, error)
            return
        reply: dict[str, Any] = {
            "type": "invocationresult",
            "invocation_id": invocation_id,
            "function_id": function_id,
        }
        if error is None:
            try:
                codec.dumps(result)
            except codec.EncodeError as exc:
                error = InvocationError(
                    "invocation_failed", f"{function_id} returned a result that is not JSON: {exc}"
                )
        if error is not None:
            reply["error"] = error.to_wire()
        elif result is not None or stored_null or function_id in UNIT_RESULTS:
            reply["result"] = result
        self._send(reply)
