"""Dashboards published by an engine: the layout, the page, and what a viewer's socket may do,
over real sockets (the page in Chromium is in tests/browser/test_dashboards_browser.py)."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import iii_live
from iii_live.dashboards import LAYOUT_STREAM

from .conftest import Client, upgrade_request, wait_for
from .test_websocket_edges import masked

ADMIN = "admin-token-0123456789abcdef"


def socket_url(page_url: str) -> str:
    """The viewer socket beside a page URL (``/d/ops?token=t`` -> ``/d/ops/ws?sync=keyed&token=t``)."""
    page, _, query = page_url.partition("?")
    return page.replace("http://", "ws://", 1) + "/ws?sync=keyed" + (f"&{query}" if query else "")


def join(viewer: Client, sub_id: str, stream: str, group: str, **data: Any) -> None:
    viewer.send(
        {
            "type": "join",
            "data": {
                "subscriptionId": sub_id,
                "streamName": stream,
                "groupId": group,
                "resume": True,
                **data,
            },
        }
    )


def frames_until(viewer: Client, predicate) -> list[dict[str, Any]]:
    """Frames received up to and including the first that ``predicate`` accepts."""
    frames = []
    while True:
        frame = viewer.recv(timeout=10)
        frames.append(frame)
        if predicate(frame):
            return frames


def closed(viewer: Client) -> tuple[int | None, str | None]:
    """Read until the engine closes the socket; its close code and reason."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            viewer.recv(timeout=10)
    received = info.value.rcvd
    return (received.code, received.reason) if received else (None, None)


def http_status(url: str, **headers: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def upgrade_status(url: str, **options: Any) -> int:
    with pytest.raises(InvalidStatus) as info:
        connect(url, open_timeout=5, **options)
    return info.value.response.status_code


@pytest.fixture
def ops(engine):
    """A dashboard of a table of ``m/hosts``, a chart of ``m/load`` and markdown."""
    s = engine.stream("m")
    s.set("hosts", "h1", {"cpu": 10})
    s.set("load", "t1", {"t": 1, "v": 0.5})
    table = s.table("hosts", sort_by="cpu", max_rows=50, height=200)
    chart = s.chart("load", x="t", y="v", window=100, kind="bar")
    dashboard = iii_live.Dashboard("Ops", [["# Fleet\nLive.", table], [[chart, "*below the chart*"]]])
    yield dashboard
    for widget in dashboard.widgets():
        widget.close()


@pytest.fixture
def viewers(client_factory):
    return client_factory


# -- the dashboard object -------------------------------------------------------------------


def test_layout_carries_each_widgets_group_and_options(ops):
    layout = ops.layout()
    assert layout["title"] == "Ops"
    markdown, table = layout["rows"][0]
    assert markdown == {"kind": "markdown", "text": "# Fleet\nLive."}
    assert table == {
        "kind": "table",
        "stream": "m",
        "group": "hosts",
        "options": {
            "columns": [],
            "sort_by": "cpu",
            "ascending": True,
            "max_rows": 50,
            "height": 200,
            "show_id": True,
        },
    }
    [column] = layout["rows"][1]
    chart, note = column["cells"]
    assert column["kind"] == "column" and note == {"kind": "markdown", "text": "*below the chart*"}
    assert chart["kind"] == "chart" and (chart["stream"], chart["group"]) == ("m", "load")
    assert chart["options"] == {
        "x": "t",
        "y": ["v"],
        "kind": "bar",
        "window": 100,
        "title": "",
        "height": 360,
    }
    assert ops.groups() == {("m", "hosts"), ("m", "load")}
    json.dumps(layout)  # JSON as it is


def test_cells_a_page_cannot_show_are_refused_by_position(engine):
    table = engine.stream("m").table("g")
    try:
        with pytest.raises(TypeError, match=r"rows\[0\]\[1\] is int: a dashboard cell is a LiveTable"):
            iii_live.Dashboard("x", [[table, 3]])
        with pytest.raises(TypeError, match=r"rows\[1\] is LiveTable: a row is a list of cells"):
            iii_live.Dashboard("x", [[table], table])
        with pytest.raises(TypeError, match=r"rows\[0\]\[0\]\[1\] is dict"):
            iii_live.Dashboard("x", [[["ok", {"kind": "table"}]]])
        with pytest.raises(TypeError, match="title is a string"):
            iii_live.Dashboard(None, [])  # type: ignore[arg-type]
    finally:
        table.close()


def test_a_dashboard_displays_in_the_notebook_as_its_widgets(ops):
    bundle = ops._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    box = ops.widget()
    title, first, second = box.children
    assert "Ops" in title.value
    markdown, table = (cell.children[0] for cell in first.children)
    assert markdown.outputs[0]["data"]["text/markdown"] == "# Fleet\nLive."
    assert table is ops.rows[0][1]
    column = second.children[0].children[0]
    assert column.children[0] is ops.rows[1][0][0]


# -- publishing -----------------------------------------------------------------------------


def test_publish_serves_the_page_and_stores_the_layout_in_the_reserved_stream(engine, ops):
    url = engine.publish(ops, name="ops")
    assert url == f"http://127.0.0.1:{engine.port}/d/ops"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert b"../_iii/static/dashboard.js" in response.read()
    assert engine.stream(LAYOUT_STREAM).get("ops", "layout") == ops.layout()
    assert http_status(f"http://127.0.0.1:{engine.port}/d/other") == 404
    assert http_status(f"http://127.0.0.1:{engine.port}/_iii/static/dashboard.js") == 200


def test_a_trailing_slash_redirects_relative_so_a_proxy_prefix_is_kept(engine, ops):
    engine.publish(ops, name="ops", token="view-token-0123456789")
    request = urllib.request.Request(f"http://127.0.0.1:{engine.port}/d/ops/?token=view-token-0123456789")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert info.value.code == 302
    assert info.value.headers["Location"] == "../ops?token=view-token-0123456789"


def test_publishing_what_is_not_a_dashboard_or_a_taken_name_is_refused(engine, ops):
    with pytest.raises(TypeError, match="publish\\(\\) takes an iii_live.Dashboard, not dict"):
        engine.publish({"title": "x"}, name="ops")  # type: ignore[arg-type]
    for bad in ("", "a/b", "../x", "ops page", "x" * 65, 7):
        with pytest.raises(ValueError, match="a dashboard name is 1 to 64 letters"):
            engine.publish(ops, name=bad)  # type: ignore[arg-type]
    engine.publish(ops, name="ops")
    engine.publish(ops, name="ops")  # the same dashboard again: an update
    other = iii_live.Dashboard("Other", [["just text"]])
    with pytest.raises(ValueError, match="a different dashboard is published as 'ops': pass replace=True"):
        engine.publish(other, name="ops")
    assert engine.stream(LAYOUT_STREAM).get("ops", "layout")["title"] == "Ops"  # nothing changed
    engine.publish(other, name="ops", replace=True)
    assert engine.stream(LAYOUT_STREAM).get("ops", "layout")["title"] == "Other"


def test_layouts_are_written_by_publish_only_and_stay_as_published(engine, ops):
    engine.publish(ops, name="ops")
    ref = {"stream_name": LAYOUT_STREAM, "group_id": "ops", "item_id": "layout"}
    forged = {"title": "Forged", "rows": [["# not this"]]}
    attempts = {
        "stream::set": {**ref, "data": forged},
        "stream::update": {**ref, "ops": [{"type": "set", "path": "title", "value": "Forged"}]},
        "stream::delete": ref,
    }
    for function_id, payload in attempts.items():
        with pytest.raises(iii_live.InvocationError) as info:
            engine.trigger({"function_id": function_id, "payload": payload})
        assert info.value.code == "deserialization_error"
        assert "holds the layouts of dashboards: only publish() writes to it" in info.value.message
    layouts = engine.stream(LAYOUT_STREAM)
    with pytest.raises(iii_live.InvocationError, match="only publish\\(\\) writes to it"):
        layouts.set("another", "layout", forged)  # a name not published either
    assert layouts.get("ops", "layout") == ops.layout()
    assert layouts.list_groups() == ["ops"]
    assert engine.unpublish("ops")
    assert layouts.get("ops", "layout") is None


def test_the_layouts_stream_cannot_be_served_by_a_custom_stream(engine, ops):
    class Forged:
        def get(self, group_id, item_id):
            return {"title": "Forged", "rows": []}

        def set(self, group_id, item_id, data):
            return None

        def delete(self, group_id, item_id):
            return None

        def list(self, group_id):
            return []

        def list_groups(self):
            return []

    with pytest.raises(ValueError, match="iii-live~dashboards is reserved for the layouts of dashboards"):
        engine.create_stream(LAYOUT_STREAM, Forged())
    engine.publish(ops, name="ops")
    assert engine.stream(LAYOUT_STREAM).get("ops", "layout") == ops.layout()


def test_widgets_of_another_engine_and_the_reserved_stream_are_refused(engine, ops):
    elsewhere = iii_live.start(port=0, background=True, engine_port=None)
    try:
        foreign = elsewhere.stream("m").table("hosts")
        with pytest.raises(ValueError, match="shows a group of another engine"):
            engine.publish(iii_live.Dashboard("x", [[foreign]]), name="x")
        foreign.close()
        reserved = engine.stream(LAYOUT_STREAM).table("ops")
        with pytest.raises(ValueError, match="reserved for the layouts of dashboards"):
            engine.publish(iii_live.Dashboard("x", [[reserved]]), name="x")
        reserved.close()
    finally:
        elsewhere.stop()
    assert engine.dashboards.names() == []


# -- what a viewer may do ---------------------------------------------------------------------


def test_a_viewer_joins_the_layout_and_the_dashboards_groups_and_nothing_else(engine, ops, viewers):
    url = engine.publish(ops, name="ops")
    viewer = viewers(socket_url(url))
    join(viewer, "layout", LAYOUT_STREAM, "ops")
    layout = viewer.recv()
    assert layout["event"] == {"type": "sync", "data": {"layout": ops.layout()}}
    assert "seq" in layout  # resumable frames
    join(viewer, "hosts", "m", "hosts")
    assert viewer.recv()["event"] == {"type": "sync", "data": {"h1": {"cpu": 10}}}
    for stream, group in (("m", "secrets"), ("other", "hosts"), (LAYOUT_STREAM, "another-dashboard")):
        join(viewer, f"x-{group}", stream, group)
        refused = viewer.recv()
        assert refused["event"]["type"] == "unauthorized"
        assert (refused["streamName"], refused["groupId"]) == (stream, group)
        assert "is not shown by dashboard 'ops'" in refused["event"]["reason"]
    engine.stream("m").set("secrets", "k", {"v": 1})  # refused groups send nothing...
    engine.stream("m").set("hosts", "h1", {"cpu": 11})  # ...the shown one does
    frame = viewer.recv()
    assert (frame["groupId"], frame["event"]) == ("hosts", {"type": "update", "data": {"cpu": 11}})


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        b'{"type":"join"}',
        '{"type":"invokefunction","invocation_id":"1","function_id":"stream::set",'
        '"data":{"stream_name":"m","group_id":"hosts","item_id":"h1","data":{"cpu":0}}}',
        '{"type":"join","data":{"subscriptionId":1}}',
        "[]",
    ],
)
def test_a_viewer_sending_anything_else_is_closed_and_others_are_untouched(engine, ops, viewers, frame):
    url = engine.publish(ops, name="ops")
    bystander = viewers(socket_url(url))
    join(bystander, "hosts", "m", "hosts")
    assert bystander.recv()["event"]["type"] == "sync"
    rogue = viewers(socket_url(url))
    rogue.send(frame)
    code, reason = closed(rogue)
    assert code == 1008
    assert reason.startswith("a dashboard page sends")
    assert engine.stream("m").get("hosts", "h1") == {"cpu": 10}  # nothing was written
    engine.stream("m").set("hosts", "h2", {"cpu": 5})
    assert bystander.recv()["event"] == {"type": "create", "data": {"cpu": 5}}


def test_an_oversized_viewer_frame_closes_with_1009(engine, ops, viewers):
    viewer = viewers(socket_url(engine.publish(ops, name="ops")))
    viewer.send(json.dumps({"type": "join", "data": {"subscriptionId": "x" * 20_000}}))
    assert closed(viewer)[0] == 1009


def test_republishing_updates_open_pages_and_leaves_groups_no_longer_shown(engine, ops, viewers):
    viewer = viewers(socket_url(engine.publish(ops, name="ops")))
    join(viewer, "layout", LAYOUT_STREAM, "ops")
    join(viewer, "hosts", "m", "hosts")
    frames_until(viewer, lambda f: f["groupId"] == "hosts")
    subscribers = engine.core.hub.counts
    assert subscribers()[("m", "hosts")] == 2  # the widget's and the viewer's

    ops.rows = [["only the chart now", ops.rows[1][0][0]]]
    engine.publish(ops, name="ops")
    update = viewer.recv()
    assert (update["groupId"], update["event"]["type"]) == ("ops", "update")
    assert update["event"]["data"]["rows"][0][0]["text"] == "only the chart now"
    wait_for(lambda: subscribers()[("m", "hosts")] == 1)  # the engine made the viewer leave
    join(viewer, "hosts-again", "m", "hosts")
    assert "is not shown" in viewer.recv()["event"]["reason"]
    join(viewer, "load", "m", "load")
    assert viewer.recv()["event"]["type"] == "sync"
    engine.stream("m").set("hosts", "h1", {"cpu": 99})
    engine.stream("m").set("load", "t2", {"t": 2, "v": 0.7})
    assert viewer.recv()["groupId"] == "load"  # no hosts frame came before it


def test_unpublishing_tells_open_pages_and_a_later_publish_reaches_them(engine, ops, viewers):
    url = engine.publish(ops, name="ops")
    viewer = viewers(socket_url(url))
    join(viewer, "layout", LAYOUT_STREAM, "ops")
    join(viewer, "hosts", "m", "hosts")
    frames_until(viewer, lambda f: f["groupId"] == "hosts")
    assert engine.unpublish("ops") is True
    assert engine.unpublish("ops") is False
    gone = viewer.recv()
    assert (gone["groupId"], gone["id"], gone["event"]["type"]) == ("ops", "layout", "delete")
    assert http_status(url) == 404
    assert upgrade_status(socket_url(url)) == 404
    wait_for(lambda: engine.core.hub.counts()[("m", "hosts")] == 1)
    join(viewer, "hosts-again", "m", "hosts")
    assert "dashboard 'ops' is not published" in viewer.recv()["event"]["reason"]
    engine.publish(ops, name="ops")
    back = viewer.recv()
    assert (back["groupId"], back["event"]["type"]) == ("ops", "create")


# -- access: tokens, auth_function, Host and Origin ----------------------------------------------


@pytest.fixture
def guarded():
    engine = iii_live.start(port=0, background=True, token=ADMIN, engine_port=None)
    yield engine
    engine.stop()


def test_a_dashboard_has_its_own_view_token_besides_the_engines(guarded):
    dashboard = iii_live.Dashboard("Ops", [[guarded.stream("m").table("hosts")]])
    url = guarded.publish(dashboard, name="ops")
    page, _, query = url.partition("?token=")
    view_token = urllib.parse.unquote(query)
    assert view_token and view_token != ADMIN
    assert http_status(page) == 401
    assert http_status(f"{page}?token=wrong") == 401
    assert http_status(url) == 200
    assert http_status(f"{page}?token={ADMIN}") == 200
    assert http_status(page, Authorization=f"Bearer {view_token}") == 200
    assert upgrade_status(socket_url(page)) == 401
    with connect(socket_url(url), open_timeout=5):
        pass
    # the view token opens this dashboard only: not the engine's own sockets and pages
    ws_base = f"ws://127.0.0.1:{guarded.port}"
    assert upgrade_status(f"{ws_base}/stream/m/hosts?token={view_token}") == 401
    assert http_status(f"http://127.0.0.1:{guarded.port}/?token={view_token}") == 401
    assert guarded.publish(dashboard, name="ops") == url  # republished: the same link
    assert guarded.publish(dashboard, name="open", token=False) == f"{page[:-3]}open"
    assert http_status(f"{page[:-3]}open") == 200
    dashboard.widgets()[0].close()


def test_a_new_token_closes_the_viewers_of_the_old_one(engine, ops, viewers):
    old = engine.publish(ops, name="ops", token="first-token-0123456789")
    viewer = viewers(socket_url(old))
    join(viewer, "hosts", "m", "hosts")
    viewer.recv()
    new = engine.publish(ops, name="ops", token="second-token-0123456789")
    assert closed(viewer) == (1008, "the dashboard's token changed: open its new link")
    assert upgrade_status(socket_url(old)) == 401
    with connect(socket_url(new), open_timeout=5):
        pass


def test_auth_function_applies_to_viewers_and_its_context_reaches_join_triggers():
    engine = iii_live.start(
        port=0, background=True, engine_port=None, auth_function="auth", auth_required=True
    )
    try:
        engine.register_function(
            "auth",
            lambda request: {"unauthorized": "x-team" not in request["headers"], "context": "ops-team"},
        )
        contexts = []
        engine.register_function("on_join", lambda payload: contexts.append(payload["context"]))
        engine.register_trigger({"type": "stream:join", "function_id": "on_join", "config": {}})
        table = engine.stream("m").table("hosts")
        url = engine.publish(iii_live.Dashboard("Ops", [[table]]), name="ops")
        assert upgrade_status(socket_url(url)) == 403
        with connect(socket_url(url), open_timeout=5, additional_headers={"X-Team": "1"}) as ws:
            ws.send(
                json.dumps(
                    {"type": "join", "data": {"subscriptionId": "a", "streamName": "m", "groupId": "hosts"}}
                )
            )
            assert json.loads(ws.recv(timeout=10))["event"]["type"] == "sync"
        assert contexts == ["ops-team"]
        table.close()
    finally:
        engine.stop()


def test_host_and_origin_rules_apply_to_dashboard_pages_and_sockets(engine, ops):
    url = engine.publish(ops, name="ops")
    assert http_status(url, Host="evil.example") == 403
    assert upgrade_status(socket_url(url), origin="https://evil.example") == 403
    with connect(socket_url(url), open_timeout=5, origin=f"http://localhost:{engine.port + 1}"):
        pass


# -- the command -----------------------------------------------------------------------------

APP = """
import iii_live
feed = engine.stream("m")
feed.set("hosts", "h1", {"cpu": 42})
dashboard = iii_live.Dashboard("From the CLI", [["# Hosts", feed.table("hosts")]])
engine.publish(dashboard, name=NAME, token=False)
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("form", ["file", "module"])
def test_serve_runs_a_dashboard_app_without_jupyter(tmp_path, form):
    (tmp_path / "ops_app.py").write_text(textwrap.dedent(APP).replace("NAME", repr(f"ops-{form}")))
    target = str(tmp_path / "ops_app.py") if form == "file" else "ops_app"
    command = Path(sys.executable).with_name("iii-live")
    proc = subprocess.Popen(
        [str(command), "serve", "--port", "0", "--engine-port", "off", "--dashboard", target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])},
        cwd=tmp_path,
    )
    try:
        line = ""
        while not line.startswith("dashboard "):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
        url = line.split(": ", 1)[1].strip()
        assert url.endswith(f"/d/ops-{form}")
        assert http_status(url) == 200
        with connect(socket_url(url), open_timeout=5) as ws:
            for sub, stream, group in (("l", LAYOUT_STREAM, f"ops-{form}"), ("h", "m", "hosts")):
                data = {"subscriptionId": sub, "streamName": stream, "groupId": group}
                ws.send(json.dumps({"type": "join", "data": data}))
            layout = json.loads(ws.recv(timeout=10))["event"]["data"]["layout"]
            assert layout["title"] == "From the CLI"
            assert json.loads(ws.recv(timeout=10))["event"]["data"] == {"h1": {"cpu": 42}}
    finally:
        proc.terminate()
        assert proc.wait(15) == 0, proc.stderr.read()


@pytest.mark.subprocess
def test_serve_reports_a_failing_dashboard_app(tmp_path):
    (tmp_path / "broken.py").write_text("engine.publish({'not': 'a dashboard'}, name='x')\n")
    command = Path(sys.executable).with_name("iii-live")
    out = subprocess.run(
        [
            str(command),
            "serve",
            "--port",
            "0",
            "--engine-port",
            "off",
            "--dashboard",
            str(tmp_path / "broken.py"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "publish() takes an iii_live.Dashboard, not dict" in out.stderr


def test_the_docs_example_publishes_what_it_says():
    page = Path(__file__).resolve().parents[1] / "docs" / "dashboards.md"
    example = page.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    quiet = example.replace("iii_live.start()", "iii_live.start(port=0, background=True, engine_port=None)")
    namespace: dict[str, Any] = {}
    exec(quiet, namespace)
    engine, dash = namespace["engine"], namespace["dash"]
    try:
        assert namespace["url"] == f"http://127.0.0.1:{engine.port}/d/ops"
        assert http_status(namespace["url"]) == 200
        first, second = dash.layout()["rows"]
        assert [cell["kind"] for cell in first] == ["markdown", "table"]
        assert [cell["kind"] for cell in second] == ["chart", "column"]
        assert first[1]["options"]["max_rows"] == 50
    finally:
        for widget in dash.widgets():
            widget.close()
        engine.stop()


def read_frame(sock: socket.socket, data: bytearray) -> tuple[int, bytes] | None:
    """The next server frame (opcode, payload) from ``sock``, ``data`` holding what was read
    beyond it; None at the end of the connection."""
    while True:
        if len(data) >= 4 or (len(data) >= 2 and data[1] & 0x7F < 126):
            length, start = data[1] & 0x7F, 2
            if length == 126:
                length, start = struct.unpack(">H", data[2:4])[0], 4
            assert length < 65536, "no frame of the test is that long"
            if len(data) >= start + length:
                frame = (data[0] & 0x0F, bytes(data[start : start + length]))
                del data[: start + length]
                return frame
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk


def test_a_viewer_being_closed_gets_no_frame_after_the_close_frame(engine, ops, viewers):
    """The closing handshake leaves the session subscribed until the TCP connection ends: what
    its groups publish meanwhile must not follow the close frame (RFC 6455 §5.5.1)."""
    url = socket_url(engine.publish(ops, name="ops"))
    bystander = viewers(url)
    join(bystander, "hosts", "m", "hosts")
    assert bystander.recv()["event"]["type"] == "sync"
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(upgrade_request(f"{parts.path}?{parts.query}", parts.netloc))
        data = bytearray()
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 101")
        del data[: data.index(b"\r\n\r\n") + 4]
        join_frame = {"type": "join", "data": {"subscriptionId": "h", "streamName": "m", "groupId": "hosts"}}
        sock.sendall(masked(0x1, json.dumps(join_frame).encode()))
        assert json.loads(read_frame(sock, data)[1])["event"]["type"] == "sync"
        sock.sendall(masked(0x1, b"not json"))  # refused: the engine starts closing
        opcode, payload = read_frame(sock, data)
        assert (opcode, struct.unpack(">H", payload[:2])[0]) == (0x8, 1008)
        engine.stream("m").set("hosts", "h2", {"cpu": 5})
        assert bystander.recv()["event"] == {"type": "create", "data": {"cpu": 5}}  # it went out
        sock.sendall(masked(0x8, struct.pack(">H", 1000)))  # our reply: the engine ends the connection
        assert read_frame(sock, data) is None
        assert not data


def test_the_same_dashboard_made_again_in_the_same_engine_is_an_update(engine, ops):
    """Re-running a notebook cell builds the same dashboard as a new object: the same layout
    is an update, not a different dashboard that needs ``replace=True``."""
    engine.publish(ops, name="ops")
    again = iii_live.Dashboard(ops.title, [list(row) for row in ops.rows])
    assert again.layout() == ops.layout()
    engine.publish(again, name="ops")
    assert engine.stream(LAYOUT_STREAM).get("ops", "layout") == again.layout()


def test_the_next_run_publishing_the_same_dashboard_of_a_python_view_is_an_update(tmp_path):
    """A view with a Python computed column gets a fresh name each run, so its table's layout
    names another group: the same app run again over the same storage still publishes."""
    adapter = {"name": "kv", "config": {"store_method": "file_based", "file_path": str(tmp_path / "store")}}

    def run() -> None:
        engine = iii_live.start(port=0, background=True, adapter=adapter)
        try:
            base = engine.stream("m")
            base.set("hosts", "h1", {"cpu": 10})
            view = base.view("hosts", columns={"cpu": "cpu", "double": lambda item: item["cpu"] * 2})
            table = engine.stream(view.stream_name).table(view.group_id)
            engine.publish(iii_live.Dashboard("Ops", [[table]]), name="ops")
        finally:
            engine.stop()

    run()
    run()  # the same app, run again


def test_engines_sharing_redis_show_the_last_published_layout_and_unpublish_only_their_own(redis_engines):
    here, there = redis_engines(), redis_engines()
    mine = here.stream("m").table("hosts")
    theirs = there.stream("n").table("other")
    viewer = None
    try:
        url = here.publish(iii_live.Dashboard("Mine", [[mine]]), name="ops")
        viewer = Client(socket_url(url))
        join(viewer, "layout", LAYOUT_STREAM, "ops")
        assert viewer.recv()["event"]["data"]["layout"]["title"] == "Mine"
        there.publish(iii_live.Dashboard("Theirs", [[theirs]]), name="ops")  # the last publish wins
        assert viewer.recv()["event"]["data"]["title"] == "Theirs"
        assert here.unpublish("ops")  # its own layout is gone already: it leaves theirs
        assert there.stream(LAYOUT_STREAM).get("ops", "layout")["title"] == "Theirs"
        assert there.unpublish("ops")
        assert viewer.recv()["event"]["type"] == "delete"  # the next change: theirs, deleted
    finally:
        if viewer is not None:
            viewer.close()
        mine.close()
        theirs.close()
