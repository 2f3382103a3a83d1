"""The engine: one stream module, its registries, its storage and its servers.

``start()`` is the way in. An engine serves the stream port (iii stream protocol over
WebSocket) and answers ``trigger()`` calls from Python, whichever thread they come from.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import socket
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import quote

import tornado.httpserver
import tornado.netutil

from . import codec, succession
from .config import AUTO, DEFAULT_ENGINE_PORT, EngineConfig, load_config
from .core import StreamCore
from .dashboards import LAYOUT_ITEM, LAYOUT_STREAM, Dashboard, Dashboards, Published
from .dashboards.registry import check_name
from .display import engine_html
from .errors import ConfigError, InvocationError, PortInUseError
from .functions import Function, FunctionRegistry, discard, resolve
from .runtime import Runtime
from .server.access import is_loopback, resolve_token, view_token
from .server.connections import Connections
from .server.keepalive import Keepalive
from .server.settings import ServerSettings
from .stream_handle import StreamHandle
from .streams.adapters import StreamAdapter, create_adapter
from .streams.history import GroupHistory
from .streams.hub import CallbackSubscription, Subscription
from .streams.triggers import Trigger, TriggerRegistry
from .views import View, ViewSpec, ViewSpecError

log = logging.getLogger("iii_live")

DEFAULT_TIMEOUT_MS = 30_000
IO_THREADS = 4
"""Worker threads for blocking reads of a remote store (joins, the stream browser's counts)."""
_UNSET: Any = object()
T = TypeVar("T")

_running: dict[succession.Key, Engine] = {}
_running_lock = threading.Lock()


def start(
    config: Any = None,
    *,
    host: str | None = None,
    port: int | None = None,
    adapter: Any = None,
    background: bool = False,
    engine_port: Any = _UNSET,
    **options: Any,
) -> Engine:
    """Start an engine (host ``127.0.0.1`` and port ``3112`` unless configured) and return it.

    In a Jupyter kernel or any running asyncio loop the engine serves on that loop; in a
    plain script, or with ``background=True``, on its own thread (``run_forever()`` then
    blocks until ``stop()``). ``port=0`` picks a free port. Starting again with the same
    arguments returns the engine already running; with different ones it is restarted, and
    the widgets made from it follow the new engine. With ``port=0`` this holds for a notebook
    cell run again (see ``iii_live.succession``); elsewhere each such engine is a new one.

    ``engine_port`` (default 49134, or a free port when ``port=0``; ``None`` turns it off)
    serves the iii worker protocol, so workers built with the official SDKs can connect.
    """
    if engine_port is not _UNSET:
        options["engine_port"] = engine_port
    resolved = load_config(config).with_overrides(host=host, port=port, adapter=adapter, **options)
    key = succession.engine_key(resolved.host, resolved.port)
    with _running_lock:
        existing = _running.get(key) if key is not None else None
    if existing is not None:
        if existing.config == resolved and existing.background == background:
            log.info("iii-live engine already running on %s; reusing it", existing.stream_url)
            return existing
        log.info("restarting the iii-live engine on %s with the new settings", existing.stream_url)
        existing.stop()
    engine = Engine(resolved, background=background)
    engine._start(key)
    succession.started(key, engine)
    return engine


class Engine:
    """A running iii stream engine. Build it with :func:`iii_live.start`."""

    def __init__(self, config: EngineConfig, *, background: bool = False) -> None:
        self.config = config
        self.background = background
        self.runtime: Runtime | None = None
        self.token = resolve_token(config.token, config.host)
        """What clients must present (``?token=`` or ``Authorization: Bearer``), or None."""
        self.core = StreamCore(
            create_adapter(config.adapter),
            config.limits,
            spawn=self._spawn,
            offload=self._offload,
            history=GroupHistory(config.resume_window, config.resume_ttl),
            retention=config.retention,
        )
        """Everything but the I/O: registries, storage, fan-out (internal)."""
        self.host = config.host
        self.port = config.port
        self.engine_port: int | None = None
        self._connections = Connections()
        self.dashboards = Dashboards()
        """The dashboards this engine serves (``publish``), by name."""
        self._servers: list[tornado.httpserver.HTTPServer] = []
        self._keepalive = Keepalive(self._connections, config.ping_interval)
        self._io = concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="iii-live-io")
        self._stopped = threading.Event()
        self._running_key: succession.Key | None = None
        self.widgets: weakref.WeakSet[succession.Follower] = weakref.WeakSet()
        """Widgets made from this engine: told when it stops, handed to the engine replacing it."""

    @property
    def functions(self) -> FunctionRegistry:
        """Every function a trigger can reach (``"id" in engine.functions``)."""
        return self.core.functions

    @property
    def triggers(self) -> TriggerRegistry:
        return self.core.triggers

    @property
    def adapter(self) -> StreamAdapter:
        """The storage adapter (kv, redis, or the object passed as ``adapter``)."""
        return self.core.adapter

    # -- lifecycle ---------------------------------------------------------------------

    def _start(self, key: succession.Key | None = None) -> None:
        sockets = _bind(self.config.host, self.config.port)
        self.port = sockets[0].getsockname()[1]
        engine_port = self.config.engine_port
        if engine_port == AUTO:
            engine_port = 0 if self.config.port == 0 else DEFAULT_ENGINE_PORT
        worker_sockets: list[socket.socket] = []
        try:
            if engine_port is not None:
                worker_sockets = _bind(self.config.host, engine_port, "engine_port")
                self.engine_port = worker_sockets[0].getsockname()[1]
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        runtime = None if self.background else Runtime.attach()
        self.runtime = runtime = runtime or Runtime.start_thread()
        try:
            self.core.open(runtime.call_soon)
            runtime.call(lambda: self._listen(runtime, sockets, worker_sockets))
        except BaseException:
            for sock in sockets + worker_sockets:
                sock.close()
            runtime.stop()
            raise
        self._open_views()
        if key is not None:
            self._running_key = key
            with _running_lock:
                _running[self._running_key] = self
        log.info(
            "iii-live engine: stream port %s, engine port %s; %s; adapter %r, %s",
            self.stream_url,
            self.engine_url or "off",
            self._exposure(),
            self.adapter,
            "own thread" if runtime.owns_thread else "caller's event loop",
        )
        if (
            self.token is not None
            and self.config.token is not True
            and not isinstance(self.config.token, str)
        ):
            log.warning(
                "bound beyond loopback: clients must present token %s (?token= or Bearer)", self.token
            )

    def _open_views(self) -> None:
        """Open the views of the config; one that its data refuses stops the start."""
        for i, spec in enumerate(self.config.views):
            try:
                self.core.views.open(spec)
            except ViewSpecError as exc:
                self.stop()
                where = self.config.source or "<config>"
                raise ConfigError(f"{where}: {exc.within(f'views[{i}]')}") from None

    def _exposure(self) -> str:
        """What the start-up log says about who can reach the engine and how it is protected."""
        reach = (
            "loopback only" if is_loopback(self.host) else f"reachable on {self.host} (beyond this machine)"
        )
        guard = "token required" if self.token else "no token"
        origins = ", ".join(self.config.allowed_origins) or "none"
        auth = (
            f"auth_function {self.config.auth_function}" if self.config.auth_function else "no auth_function"
        )
        return f"{reach}; {guard}; browser origins: same host + {origins}; {auth}"

    def _listen(
        self, runtime: Runtime, sockets: list[socket.socket], worker_sockets: list[socket.socket]
    ) -> None:
        from .server.app import make_stream_app, make_worker_app

        config = self.config
        settings = ServerSettings(
            token=self.token,
            allowed_origins=config.allowed_origins,
            loopback_only=is_loopback(config.host),
            allowed_hosts=config.allowed_hosts,
            auth_function=config.auth_function,
            auth_required=config.auth_required,
            limits=config.limits,
            max_write_buffer=config.max_write_buffer,
            conflate_at=config.conflate_at,
            ping_interval=config.ping_interval,
        )
        stream_app = make_stream_app(self.core, settings, self._connections, self._describe, self.dashboards)
        apps = (
            (stream_app, sockets),
            (make_worker_app(self.core, settings), worker_sockets),
        )
        for app, socks in apps:
            if socks:
                server = tornado.httpserver.HTTPServer(app)
                server.add_sockets(socks)
                self._servers.append(server)
        self._keepalive.start(runtime.loop)

    def _describe(self) -> dict[str, Any]:
        """Addresses and client counts, for the stream browser."""
        return {
            "stream_url": self.stream_url,
            "engine_url": self.engine_url,
            "connections": len(self._connections),
            "workers": len(self.core.workers.describe()),
        }

    @property
    def stream_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    def subscribe_url(self, stream_name: str, group_id: str, item_id: str | None = None) -> str:
        """The WebSocket URL that subscribes to a group (or an item), token included."""
        path = "/".join(quote(part, safe="") for part in (stream_name, group_id, item_id) if part is not None)
        return f"{self.stream_url}/stream/{path}" + (f"?token={quote(self.token)}" if self.token else "")

    @property
    def browser_url(self) -> str:
        """The stream browser page, token included."""
        base = self.stream_url.replace("ws://", "http://", 1) + "/"
        return base + (f"?token={quote(self.token)}" if self.token else "")

    @property
    def engine_url(self) -> str | None:
        """``ws://host:port`` of the worker protocol, for ``iii.register_worker(...)``."""
        if self.engine_port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.engine_port}"

    @property
    def workers(self) -> list[dict[str, Any]]:
        """Connected iii workers, with the functions and triggers they host."""
        return self.core.workers.describe()

    @property
    def running(self) -> bool:
        return self.runtime is not None and not self._stopped.is_set()

    def stop(self) -> None:
        """Close every socket with 1001 (going away), flush storage, stop the loop thread."""
        if self._stopped.is_set() or self.runtime is None:
            return
        self._stopped.set()
        if self._running_key is not None:
            with _running_lock:
                if _running.get(self._running_key) is self:
                    del _running[self._running_key]
        runtime = self.runtime
        if not runtime.loop.is_closed():
            try:
                if runtime.in_loop():
                    self._close_sockets()
                else:
                    runtime.run(self._shutdown(), timeout=10)
            except (TimeoutError, RuntimeError):
                log.warning("the engine loop did not answer; closing storage anyway")
        try:
            self.core.close()
        finally:
            self._io.shutdown(wait=False)
            runtime.stop()
            succession.stopped(self._running_key, list(self.widgets))
        log.info("iii-live engine on port %s stopped", self.port)

    def _close_sockets(self) -> None:
        """Stop listening and start the closing handshake of every socket (1001)."""
        self._keepalive.stop()
        for server in self._servers:
            server.stop()
        for connection in self._connections:
            connection.close_going_away()
        self.core.workers.close_all()

    async def _shutdown(self, grace: float = 2.0) -> None:
        """Close every socket and wait (up to ``grace``) for the handshakes to finish."""
        self._close_sockets()
        deadline = asyncio.get_running_loop().time() + grace
        while len(self._connections) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        for connection in self._connections:
            connection.drop("engine stopped")

    def run_forever(self) -> None:
        """Block until ``stop()`` is called (or Ctrl-C, which stops the engine)."""
        if self.runtime is not None and not self.runtime.owns_thread:
            raise RuntimeError("this engine serves on the caller's event loop; it already runs with it")
        try:
            while not self._stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<iii_live.Engine {state} {self.stream_url} adapter={self.adapter!r}>"

    def _repr_html_(self) -> str:
        """Notebook display: addresses, storage, and every stream's groups with counts."""
        running = self.running
        return engine_html(
            running=running,
            stream_url=self.stream_url,
            browser_url=self.browser_url,
            engine_url=self.engine_url,
            storage=repr(self.adapter),
            counts=self._describe() if running else None,
            streams=self.core.overview() if running else [],
        )

    # -- calling functions -------------------------------------------------------------

    def trigger(self, request: dict[str, Any] | str, payload: Any = None) -> Any:
        """Call a function and return its result (iii ``trigger``), from any thread.

        ``request`` is ``{"function_id", "payload", "action"?, "timeout_ms"?}``; a bare
        function id with ``payload`` works too. With ``action={"type": "void"}`` the call
        is fire-and-forget and returns None. A function that must wait on the engine's
        loop cannot be awaited from that loop's own thread (a notebook cell with the
        engine attached): use ``await engine.trigger_async(...)`` there.
        """
        call = self._begin(request, payload)
        if call is None:
            return None
        function_id, result, timeout = call
        if not hasattr(result, "__await__"):
            return result
        runtime = self._require_runtime()
        if runtime.in_loop():
            discard(result)
            raise RuntimeError(
                f"{function_id} has to wait on the engine's event loop, which this thread runs: "
                f"use `await engine.trigger_async(...)`, or start the engine with background=True"
            )
        try:
            return runtime.run(result, timeout)
        except TimeoutError:
            raise _timed_out(function_id, timeout) from None

    async def trigger_async(self, request: dict[str, Any] | str, payload: Any = None) -> Any:
        """``trigger()`` for async code, on any event loop."""
        call = self._begin(request, payload)
        if call is None:
            return None
        function_id, result, timeout = call
        if not hasattr(result, "__await__"):
            return result
        runtime = self._require_runtime()
        try:
            if runtime.in_loop():
                return await asyncio.wait_for(resolve(result), timeout)
            future = asyncio.run_coroutine_threadsafe(resolve(result), runtime.loop)
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            raise _timed_out(function_id, timeout) from None

    def _begin(self, request: dict[str, Any] | str, payload: Any) -> tuple[str, Any, float] | None:
        """Start a call: ``(function_id, result or awaitable, timeout)``, or None when void."""
        function_id, payload, void, timeout = _parse_request(request, payload)
        if void:
            self._spawn(self._void_call(function_id, payload))
            return None
        return function_id, self.core.call(function_id, payload), timeout

    async def _void_call(self, function_id: str, payload: Any) -> None:
        try:
            await resolve(self.core.call(function_id, payload))
        except InvocationError as exc:
            log.error("void call to %s failed: %s", function_id, exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._require_runtime().spawn(coro)

    async def _offload(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn)

    def _require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the engine is not started; use iii_live.start()")
        return self.runtime

    # -- registering ---------------------------------------------------------------------

    def register_function(
        self, function_id: str, fn: Callable[[Any], Any], *, description: str | None = None
    ) -> Function:
        """Make ``fn(payload)`` (sync or async) callable as ``function_id`` by every client."""
        return self.functions.register(function_id, fn, description=description)

    def unregister_function(self, function_id: str) -> bool:
        return self.functions.unregister(function_id)

    def register_trigger(self, trigger: dict[str, Any]) -> Trigger:
        """Register a ``stream``, ``stream:join`` or ``stream:leave`` trigger.

        ``{"type": "stream", "function_id": "on_change", "config": {"stream_name": ...,
        "group_id"?: ..., "item_id"?: ..., "condition_function_id"?: ...}}``. The returned
        trigger has ``unregister()``.
        """
        if not isinstance(trigger, dict):
            raise TypeError("register_trigger takes a dict with type, function_id and config")
        return self.triggers.register(
            trigger.get("type"),  # type: ignore[arg-type]
            trigger.get("function_id"),  # type: ignore[arg-type]
            trigger.get("config"),
            metadata=trigger.get("metadata"),
        )

    def create_stream(self, stream_name: str, adapter: Any) -> None:
        """Serve ``stream_name`` from ``adapter`` (an object with get/set/delete/list/list_groups).

        Events and triggers for the stream keep flowing as for any other stream.
        """
        self.core.create_stream(stream_name, adapter)

    # -- reading and subscribing -----------------------------------------------------------

    def subscribe(
        self,
        stream_name: str,
        group_id: str,
        callback: Callable[[dict[str, Any]], Any],
        item_id: str | None = None,
        *,
        keyed: bool = False,
    ) -> CallbackSubscription:
        """Call ``callback(message)`` with every event of a group (or of one item).

        The first call carries the ``sync`` event with the current state; then every
        create/update/delete/event, as a WebSocket client receives them. With
        ``keyed=True`` a group sync carries ``{item_id: value}`` rather than iii's list of
        values. The callback runs on the writing thread and must not block; ``close()``
        the handle to stop.
        """
        handle = CallbackSubscription(callback, self.core.unsubscribe)
        handle.subscription = Subscription(handle, stream_name, group_id, item_id, keyed=keyed)
        self.attach(handle.subscription)
        return handle

    def attach(self, subscription: Subscription) -> None:
        """Start delivering a group's events to ``subscription``'s subscriber (a custom
        stream's snapshot is read on the engine's loop); on refusal nothing stays attached."""
        try:
            pending = self.core.subscribe(subscription)
        except InvocationError:
            self.core.unsubscribe(subscription)
            raise
        if pending is not None:
            self._spawn(resolve(pending))

    def view(self, spec: ViewSpec | dict[str, Any] | str) -> View:
        """Open a view from its spec (a dict with ``stream_name`` and ``group_id``, or its JSON)."""
        return self.core.views.open(spec)

    def stream(self, stream_name: str) -> StreamHandle:
        """Shortcuts for one stream: ``engine.stream("metrics").set(group, item, data)``."""
        return StreamHandle(self, stream_name)

    def status(self) -> dict[str, Any]:
        """Health of the engine and its storage backend (e.g. whether Redis is reachable)."""
        core = self.core.status()
        return {
            "running": self.running,
            "stream_url": self.stream_url,
            "engine_url": self.engine_url,
            "connections": len(self._connections),
            "workers": core["workers"],
            "subscriptions": core["subscriptions"],
            "widgets": succession.states(self.widgets),
            "storage": core["storage"],
        }

    @property
    def auth_function(self) -> str | None:
        return self.config.auth_function

    # -- dashboards ----------------------------------------------------------------------

    def publish(
        self, dashboard: Dashboard, name: str = "ops", token: str | bool | None = None, replace: bool = False
    ) -> str:
        """Serve ``dashboard`` as a live page at ``/d/<name>`` and return its URL (its share link).

        Publishing under the same name again updates open pages in place; a name held by a
        different dashboard (another layout) needs ``replace=True``. ``token`` is what viewers
        present, apart from the engine's own token: a string, ``True`` (a new one), ``False``
        (none), or ``None``: the one published before, else a new one when the engine requires
        a token.
        Viewers read the dashboard's groups and nothing else.
        """
        if not isinstance(dashboard, Dashboard):
            raise TypeError(
                f"publish() takes an iii_live.Dashboard, not {type(dashboard).__name__}: "
                f"iii_live.Dashboard(title, rows)"
            )
        check_name(name)
        layout = dashboard.layout()
        for widget in dashboard.widgets():
            if widget.engine is not self:
                raise ValueError(f"{widget!r} shows a group of another engine; make it with this one")
        groups = dashboard.groups()
        if any(stream == LAYOUT_STREAM for stream, _ in groups):
            raise ValueError(f"{LAYOUT_STREAM} is reserved for the layouts of dashboards")
        previous = self.dashboards.get(name)
        token = view_token(token, previous, self.token)
        published = Published(name, dashboard, layout, groups, token)
        self.dashboards.publish(published, replace=replace)
        try:
            self.core.streams.set_reserved(LAYOUT_STREAM, name, LAYOUT_ITEM, layout)
        except BaseException:
            self.dashboards.restore(name, previous)
            raise
        self._require_runtime().call_soon(self.dashboards.recheck_viewers, name)
        url = published.link(self.stream_url.replace("ws://", "http://", 1))
        log.info("dashboard %r published at %s", name, url)
        return url

    def unpublish(self, name: str) -> bool:
        """Stop serving the dashboard ``name``: open pages say so and show nothing more.
        Returns whether it was published."""
        published = self.dashboards.unpublish(name)
        if published is None:
            return False
        ref = {"stream_name": LAYOUT_STREAM, "group_id": name, "item_id": LAYOUT_ITEM}
        if self.core.streams.get(ref) == codec.normalize(published.layout)[0]:
            # not when another engine sharing the storage has published its own since
            self.core.streams.delete_reserved(LAYOUT_STREAM, name, LAYOUT_ITEM)
        self._require_runtime().call_soon(self.dashboards.recheck_viewers, name)
        return True


def _timed_out(function_id: str, timeout: float) -> InvocationError:
    return InvocationError(
        "TIMEOUT", f"{function_id} did not answer within {timeout:g} s", function_id=function_id
    )


def _parse_request(request: dict[str, Any] | str, payload: Any) -> tuple[str, Any, bool, float]:
    if isinstance(request, str):
        return request, payload, False, DEFAULT_TIMEOUT_MS / 1000
    if not isinstance(request, dict):
        raise TypeError("trigger() takes {'function_id': ..., 'payload': ...} or a function id")
    function_id = request.get("function_id")
    if not isinstance(function_id, str) or not function_id:
        raise InvocationError("deserialization_error", "trigger request needs a `function_id` string")
    action = request.get("action")
    action_type = action.get("type") if isinstance(action, dict) else getattr(action, "type", None)
    if action is not None and action_type != "void":
        raise InvocationError(
            "invalid_action", f"action {action_type!r} is not supported; use {{'type': 'void'}} or none"
        )
    timeout_ms = request.get("timeout_ms") or DEFAULT_TIMEOUT_MS
    return function_id, request.get("payload"), action is not None, timeout_ms / 1000


def _bind(host: str, port: int, key: str = "port") -> list[socket.socket]:
    try:
        return tornado.netutil.bind_sockets(port, address=host, reuse_port=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                exc.errno,
                f"{key} {port} on {host} is already in use (another engine or program listens "
                f"there); pass {key}=0 to pick a free port, or choose another with {key}=...",
            ) from None
        raise
