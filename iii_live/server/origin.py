"""Which browser origins may open a WebSocket (cross-site WebSocket hijacking guard).

Browsers attach cookies to WebSocket upgrades and CORS does not apply, so the Origin
header is the only thing that stops a page from another site from reading the streams.
Allowed: requests without an Origin (non-browser clients), pages served by the same host
on any port (JupyterLab, Notebook, Voila next to the engine), and the configured list.
"""

from __future__ import annotations

from .access import hostname, is_loopback


def origin_allowed(origin: str | None, host_header: str, allowed: list[str] | tuple[str, ...] = ()) -> bool:
    if not origin:
        return True
    if "*" in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}:
        return True
    origin_host = hostname(origin)
    host = hostname(host_header)
    if origin_host is None or host is None:
        return False
    if origin_host == host:
        return True
    return is_loopback(origin_host) and is_loopback(host)
