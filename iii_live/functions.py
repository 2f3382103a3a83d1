"""The function registry: every ``function_id`` a trigger can reach, wherever it runs.

A handler takes the payload and returns the result, or an awaitable of it. Built-ins on a
synchronous adapter return plain values, so a notebook cell can call them without an event
loop; functions that must wait (async Python, a worker's function over a socket) return
awaitables, and the engine decides how to wait for them.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import InvocationError, function_not_found

Handler = Callable[[Any], Any]
T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class Function:
    function_id: str
    handler: Handler
    owner: str | None = None
    """Worker id for worker-hosted functions, None for functions of this process."""
    description: str | None = None


class FunctionRegistry:
    def __init__(self) -> None:
        self._functions: dict[str, Function] = {}
        self.version = 0
        """Counts registrations and removals, so what was looked up can be kept until it changes."""

    def register(
        self,
        function_id: str,
        handler: Handler,
        *,
        owner: str | None = None,
        description: str | None = None,
    ) -> Function:
        if not isinstance(function_id, str) or not function_id:
            raise ValueError("function_id must be a non-empty string")
        if not callable(handler):
            raise TypeError(f"handler for {function_id!r} is not callable")
        function = Function(function_id, handler, owner, description)
        self._functions[function_id] = function
        self.version += 1
        return function

    def unregister(self, function_id: str, owner: str | None = None) -> bool:
        """Remove a function; with ``owner``, only if that owner registered it."""
        function = self._functions.get(function_id)
        if function is None or (owner is not None and function.owner != owner):
            return False
        del self._functions[function_id]
        self.version += 1
        return True

    def get(self, function_id: str) -> Function | None:
        return self._functions.get(function_id)

    def __contains__(self, function_id: str) -> bool:
        return function_id in self._functions

    def ids(self) -> list[str]:
        return list(self._functions)

    def owned_by(self, owner: str) -> list[str]:
        return [f.function_id for f in self._functions.values() if f.owner == owner]

    def call(self, function_id: str, payload: Any) -> Any:
        """Run a function: its result, or an awaitable of it. Failures are InvocationErrors."""
        function = self._functions.get(function_id)
        if function is None:
            raise function_not_found(function_id)
        return guarded(function_id, function.handler, payload)


def guarded(function_id: str, handler: Handler, payload: Any) -> Any:
    """Call ``handler``, turning any exception it raises into an InvocationError."""
    try:
        result = handler(payload)
    except InvocationError:
        raise
    except Exception as exc:
        raise failed(function_id, exc) from exc
    if type(result) in _PLAIN or not inspect.isawaitable(result):
        return result
    return Deferred(result, on_error=lambda exc: failed(function_id, exc))


def failed(function_id: str, exc: BaseException) -> InvocationError:
    """What a call to ``function_id`` that raised ``exc`` fails with."""
    if isinstance(exc, InvocationError):
        return exc
    return InvocationError(
        "invocation_failed",
        str(exc) or type(exc).__name__,
        function_id=function_id,
        stacktrace="".join(traceback.format_exception(exc)),
    )


_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})


class Deferred:
    """A result still to be awaited, mapped on success or failure.

    Unlike a wrapping coroutine, it can be dropped before it starts: ``close()`` closes
    the awaitable it wraps, so nothing is left "never awaited".
    """

    __slots__ = ("_inner", "_on_result", "_on_error")

    def __init__(
        self,
        inner: Awaitable[Any],
        on_result: Callable[[Any], Any] | None = None,
        on_error: Callable[[Exception], Exception] | None = None,
    ) -> None:
        self._inner = inner
        self._on_result = on_result
        self._on_error = on_error

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            result = yield from self._inner.__await__()
        except Exception as exc:
            if self._on_error is None:
                raise
            mapped = self._on_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        return result if self._on_result is None else self._on_result(result)

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def then(result: T | Awaitable[T], fn: Callable[[T], R]) -> R | Deferred:
    """Apply ``fn`` to ``result`` now, or after awaiting it when it is awaitable."""
    if inspect.isawaitable(result):
        return Deferred(result, on_result=fn)
    return fn(result)


def discard(result: Any) -> None:
    """Drop an awaitable result that will never be awaited."""
    close = getattr(result, "close", None)
    if close is not None:
        close()


async def resolve(result: Any) -> Any:
    """Await ``result`` if it is awaitable."""
    while inspect.isawaitable(result):
        result = await result
    return result
