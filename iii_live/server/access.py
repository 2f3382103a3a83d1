"""Who may connect: the engine's token, checked the same way on every port and page.

A token is accepted from ``?token=``, ``Authorization: Bearer <token>`` (or ``token
<token>``, as Jupyter accepts) or ``X-III-Token``; browsers cannot set headers on a
WebSocket, so the query parameter is what pages use.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

from tornado.httputil import HTTPServerRequest

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(setting: str | bool | None, host: str) -> str | None:
    """The token an engine requires: as configured, or generated when bound beyond loopback."""
    if setting is True or (setting is None and not is_loopback(host)):
        return secrets.token_urlsafe(24)
    if isinstance(setting, str):
        return setting
    return None


def supplied_token(request: HTTPServerRequest) -> str | None:
    values = request.query_arguments.get("token")
    if values:
        return values[-1].decode(errors="replace")
    authorization = request.headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() in ("bearer", "token") and credential:
        return credential.strip()
    return request.headers.get("X-III-Token")


def token_accepted(request: HTTPServerRequest, token: str | None) -> bool:
    if token is None:
        return True
    supplied = supplied_token(request)
    return supplied is not None and hmac.compare_digest(supplied.encode(), token.encode())
