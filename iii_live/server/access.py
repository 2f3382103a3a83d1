"""Who may connect: the engine's token and the Host a request names, checked the same way
on every port and page.

A token is accepted from ``?token=``, ``Authorization: Bearer <token>`` (or ``token
<token>``, as Jupyter accepts) or ``X-III-Token``; browsers cannot set headers on a
WebSocket, so the query parameter is what pages use.

An engine bound to loopback answers only requests whose ``Host`` names loopback (or a name
in ``allowed_hosts``), as Jupyter does: a page on a foreign site whose name an attacker
re-points at 127.0.0.1 (DNS rebinding) sends its own name as ``Host`` and is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest
from tornado.web import HTTPError

from ..dashboards.registry import Published
from .settings import ServerSettings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    """A loopback address or name (``localhost``, and ``*.localhost``, which browsers resolve
    to loopback themselves)."""
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str, loopback_only: bool, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether to answer a request naming ``host_header`` (``name[:port]``)."""
    if not loopback_only or "*" in allowed_hosts:
        return True
    name = hostname(host_header)
    return name is not None and (is_loopback(name) or name in allowed_hosts)


def hostname(netloc_or_url: str) -> str | None:
    """The host name of ``host[:port]`` or a URL, lower-cased, IPv6 without brackets."""
    if "//" not in netloc_or_url:
        netloc_or_url = "//" + netloc_or_url
    try:
        return urlsplit(netloc_or_url).hostname
    except ValueError:
        return None


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
    return supplied is not None and _same(supplied, token)


def _same(supplied: str, token: str) -> bool:
    return hmac.compare_digest(supplied.encode(), token.encode())


def admit(request: HTTPServerRequest, settings: ServerSettings, *, token: bool = True) -> None:
    """Raise the HTTP error that refuses ``request``: 403 for a foreign ``Host`` on a
    loopback engine, 401 without the token (when ``token``). Every handler calls it first."""
    if not host_allowed(request.host, settings.loopback_only, settings.allowed_hosts):
        raise HTTPError(403, f"this engine answers loopback names only, not {request.host!r} (allowed_hosts)")
    if token and not token_accepted(request, settings.token):
        raise HTTPError(401, "a valid token is required (?token= or Authorization: Bearer)")


# -- dashboard viewers ---------------------------------------------------------------------
#
# A published dashboard has its own view token (its share link), or none. Its viewers
# present that token or the engine's; what they may then join is the registry's to say.


def view_token(setting: str | bool | None, previous: Published | None, admin_token: str | None) -> str | None:
    """The view token of a dashboard being published: a string as given, none for ``False``;
    for ``None`` the one it was published with before, else a new one when the engine
    requires a token; for ``True`` the one it had, else a new one."""
    if setting is not None and not isinstance(setting, (str, bool)):
        raise TypeError(f"token is a string, True, False or None, not {type(setting).__name__}")
    if isinstance(setting, str):
        if not setting:
            raise ValueError("a dashboard's token must not be empty (token=False publishes it without one)")
        return setting
    if setting is False:
        return None
    if previous is not None and (setting is None or previous.token is not None):
        return previous.token
    if setting is True or admin_token is not None:
        return secrets.token_urlsafe(18)
    return None


def view_token_accepted(supplied: str | None, view_token: str | None, admin_token: str | None) -> bool:
    """A viewer is admitted by the dashboard's token or the engine's (by anyone without one)."""
    if view_token is None:
        return True
    accepted = (t for t in (view_token, admin_token) if t is not None)
    return supplied is not None and any(_same(supplied, token) for token in accepted)


def admit_viewer(
    request: HTTPServerRequest, settings: ServerSettings, name: str, published: Published | None
) -> str | None:
    """Raise the HTTP error that refuses a viewer of dashboard ``name``: 403 for a foreign
    ``Host`` on a loopback engine, 404 when no such dashboard is published, 401 without its
    view token or the engine's. Returns the token the viewer presented."""
    admit(request, settings, token=False)
    if published is None:
        raise HTTPError(404, f"no dashboard named {name!r} is published")
    supplied = supplied_token(request)
    if not view_token_accepted(supplied, published.token, settings.token):
        raise HTTPError(401, "this dashboard's link carries its token (?token=); ask whoever shared it")
    return supplied
