"""The engine port: the iii worker protocol, for workers built with the official SDKs.

Routes ``/`` (workers) and ``/otel`` (telemetry, accepted and discarded). Frames are JSON
objects tagged by ``type``; unknown types and fields are ignored, as the iii engine does.
Built-in calls are answered inline, in arrival order; calls that must wait (a function of
another worker, of the notebook) run as tasks, so one worker can serve calls that the
engine makes to it while its own call is in flight.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .. import codec
from ..errors import InvocationError
from ..functions import resolve
from ..workers import Worker
from .access import token_accepted
from .origin import origin_allowed

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("iii_live.workers")

TELEMETRY_PREFIXES = (b"OTLP", b"MTRC", b"LOGS")
WORKER_REGISTER = "engine::workers::register"


class WorkerSocketHandler(WebSocketHandler):
    def initialize(self, engine: Engine) -> None:
        self.engine = engine
        self.worker: Worker | None = None

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request.host, self.engine.config.allowed_origins)

    def prepare(self) -> None:
        if not token_accepted(self.request, self.engine.token):
            raise HTTPError(401, "a valid token is required (?token= or Authorization: Bearer)")

    def open(self) -> None:
        self.set_nodelay(True)
        self.worker = self.engine.worker_registry.connect(
            self._send, self._close_going_away, self.request.remote_ip
        )
        self._send({"type": "workerregistered", "worker_id": self.worker.worker_id})
        log.info("worker connected from %s as %s", self.request.remote_ip, self.worker.worker_id)

    def on_close(self) -> None:
        if self.worker is not None:
            self.engine.worker_registry.disconnect(self.worker)

    def _close_going_away(self) -> None:
        try:
            self.close(1001, "engine stopping")
        except WebSocketClosedError:
            pass

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.write_message(codec.dumps(message).decode())
        except WebSocketClosedError:
            log.debug("dropping a message to a closed worker socket")

    def on_message(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes) and raw[:4] in TELEMETRY_PREFIXES:
            return
        try:
            message = codec.loads(raw)
        except (codec.JSONDecodeError, RecursionError):
            log.warning("ignoring a worker frame that is not JSON")
            return
        if not isinstance(message, dict):
            return
        handle = getattr(self, f"_on_{message.get('type')}", None)
        if handle is not None and self.worker is not None:
            try:
                handle(self.worker, message)
            except Exception:
                log.exception("handling a %r message failed", message.get("type"))

    # -- message types -----------------------------------------------------------------

    def _on_ping(self, worker: Worker, message: dict[str, Any]) -> None:
        self._send({"type": "pong"})

    def _on_reattach(self, worker: Worker, message: dict[str, Any]) -> None:
        previous = self.engine.worker_registry.get(str(message.get("previous_worker_id")))
        if previous is not None and previous is not worker:
            self.engine.worker_registry.disconnect(previous)
            previous.close()

    def _on_registerfunction(self, worker: Worker, message: dict[str, Any]) -> None:
        function_id = message.get("id")
        if not isinstance(function_id, str) or not function_id:
            return
        error = self.engine.worker_registry.register_function(worker, function_id, message.get("description"))
        if error is not None:
            log.warning("worker %s: %s", worker.name, error)
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

    def _on_unregisterfunction(self, worker: Worker, message: dict[str, Any]) -> None:
        self.engine.functions.unregister(str(message.get("id")), owner=worker.worker_id)

    def _on_registertrigger(self, worker: Worker, message: dict[str, Any]) -> None:
        try:
            self.engine.triggers.register(
                message.get("trigger_type"),  # type: ignore[arg-type]
                message.get("function_id"),  # type: ignore[arg-type]
                message.get("config"),
                trigger_id=message.get("id"),
                owner=worker.worker_id,
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

    def _on_unregistertrigger(self, worker: Worker, message: dict[str, Any]) -> None:
        trigger_id = str(message.get("id"))
        if any(t.id == trigger_id and t.owner == worker.worker_id for t in self.engine.triggers.all()):
            self.engine.triggers.unregister(trigger_id)

    def _on_invocationresult(self, worker: Worker, message: dict[str, Any]) -> None:
        worker.resolve(message)

    def _on_invokefunction(self, worker: Worker, message: dict[str, Any]) -> None:
        function_id = message.get("function_id")
        invocation_id = message.get("invocation_id")
        data = message.get("data")
        if function_id == WORKER_REGISTER:
            if isinstance(data, dict):
                worker.info = data
            return
        if isinstance(data, dict):
            data = {**data, "_caller_worker_id": worker.worker_id}
        try:
            if not isinstance(function_id, str):
                raise InvocationError("deserialization_error", "invokefunction needs a `function_id` string")
            result = self.engine.functions.call(function_id, data)
        except InvocationError as exc:
            self._reply(invocation_id, function_id, error=exc)
            return
        if hasattr(result, "__await__"):
            self.engine.runtime.spawn(self._finish(invocation_id, function_id, result))
        else:
            self._reply(invocation_id, function_id, result=result)

    async def _finish(self, invocation_id: Any, function_id: Any, pending: Any) -> None:
        try:
            result = await resolve(pending)
        except InvocationError as exc:
            self._reply(invocation_id, function_id, error=exc)
        else:
            self._reply(invocation_id, function_id, result=result)

    def _reply(
        self,
        invocation_id: Any,
        function_id: Any,
        *,
        result: Any = None,
        error: InvocationError | None = None,
    ) -> None:
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
        else:
            reply["result"] = result
        self._send(reply)


class TelemetrySocketHandler(WebSocketHandler):
    """``/otel``: the SDKs send OpenTelemetry frames here; they are read and dropped."""

    def initialize(self, engine: Engine) -> None:
        self.engine = engine

    def check_origin(self, origin: str) -> bool:
        return False if origin else True

    def prepare(self) -> None:
        if not token_accepted(self.request, self.engine.token):
            raise HTTPError(401, "a valid token is required")

    def on_message(self, message: str | bytes) -> None:
        pass
