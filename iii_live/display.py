"""How an engine shows itself in a notebook: addresses, storage, clients, groups."""

from __future__ import annotations

import html
from typing import Any

MAX_GROUPS_SHOWN = 200


def engine_html(
    *,
    running: bool,
    stream_url: str,
    browser_url: str,
    engine_url: str | None,
    storage: str,
    counts: dict[str, Any] | None,
    streams: list[dict[str, Any]],
) -> str:
    """The ``_repr_html_`` of an engine (``counts`` and ``streams`` empty when stopped)."""
    esc = html.escape
    rows = [
        f"<tr><th style='text-align:left'>stream port</th><td><code>{esc(stream_url)}</code> "
        f"(<a href='{esc(browser_url)}' target='_blank'>stream browser</a>)</td></tr>",
        f"<tr><th style='text-align:left'>engine port</th>"
        f"<td><code>{esc(engine_url or 'off')}</code></td></tr>",
        f"<tr><th style='text-align:left'>storage</th><td>{esc(storage)}</td></tr>",
    ]
    if counts is not None:
        rows.append(
            f"<tr><th style='text-align:left'>clients</th><td>{counts['connections']} WebSocket, "
            f"{counts['workers']} workers</td></tr>"
        )
    groups = [
        f"<tr><td>{esc(s['id'])}</td><td>{esc(g['id'])}</td><td>{g['items']}</td><td>{g['subscribers']}</td></tr>"
        for s in streams
        for g in s["groups"]
    ]
    table = (
        "<table><tr><th>stream</th><th>group</th><th>items</th><th>subscribers</th></tr>"
        + "".join(groups[:MAX_GROUPS_SHOWN])
        + "</table>"
        if groups
        else "<p>No streams yet.</p>"
    )
    state = "running" if running else "stopped"
    return f"<div><b>iii-live engine</b> ({state})<table>{''.join(rows)}</table>{table}</div>"
