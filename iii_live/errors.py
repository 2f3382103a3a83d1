"""Exceptions raised to callers, with the iii error codes they carry on the wire."""

from __future__ import annotations

from typing import Any


class InvocationError(Exception):
    """A function call failed; ``code`` and ``message`` are what an iii client receives.

    Codes follow the iii engine: ``deserialization_error``, ``function_not_found``,
    ``invocation_failed``, ``invocation_stopped``, ``STREAM_*_ERROR``, ``JSON_ERROR``...
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        function_id: str | None = None,
        stacktrace: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.function_id = function_id
        self.stacktrace = stacktrace

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object of an iii ``invocationresult``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.stacktrace:
            error["stacktrace"] = self.stacktrace
        return error


def deserialization_error(function_id: str, reason: str) -> InvocationError:
    return InvocationError(
        "deserialization_error",
        f"Failed to deserialize input for {function_id}: {reason}",
        function_id=function_id,
    )


def function_not_found(function_id: str) -> InvocationError:
    return InvocationError(
        "function_not_found",
        f"Function {function_id} not found in namespace default.",
        function_id=function_id,
    )


class PortInUseError(OSError):
    """The requested port is taken by another process (or another engine)."""


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names the key and the file."""
