"""Widgets over a notebook session's life, without a browser: engines restarted and stopped
under them, views that come and go (the messages a page sends, fed as the comm would),
closing, and garbage collection. The same cases in JupyterLab: tests/browser."""

from __future__ import annotations

import gc
import time
import weakref

import ipywidgets
import pytest

import iii_live
from iii_live.protocol.widget_session import VIEW_LEASE_SECONDS
from iii_live.widgets.flusher import flusher

from .conftest import wait_for
from .redis_server import free_port


def view_says(widget, **message):
    """A message from a view, as the comm hands it to the widget."""
    widget._received(widget, message, [])


def subscriptions(engine) -> int:
    return engine.status()["subscriptions"]


@pytest.fixture
def fixed_port_engines():
    """``start(**options)`` on one free fixed port; every engine started is stopped after."""
    port = free_port()
    started = []

    def start(**options):
        engine = iii_live.start(port=port, background=True, engine_port=None, **options)
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.stop()


def test_a_restarted_engine_takes_over_the_widgets_of_the_one_it_replaces(fixed_port_engines):
    first = fixed_port_engines()
    first.stream("m").set("g", "a", {"v": 1})
    table = first.stream("m").table("g")
    view_says(table, type="ready", view="v1")
    assert table.items == {"a": {"v": 1}}

    second = fixed_port_engines(token=True)  # the start cell re-run with other arguments
    assert second is not first and not first.running
    assert table.engine is second and table.state == "live" and table._state == "live"
    assert table.items == {}  # resynced from the new engine's (empty, in-memory) storage
    second.stream("m").set("g", "b", {"v": 2})
    assert table.items == {"b": {"v": 2}}
    assert subscriptions(second) == 1
    assert second.status()["widgets"] == {"live": 1}
    assert "1 items" in repr(table)


def test_a_stopped_engine_shows_in_its_widgets_until_an_engine_starts_on_its_port(fixed_port_engines):
    first = fixed_port_engines()
    first.stream("m").set("g", "a", {"v": 1})
    table = first.stream("m").table("g")
    chart = first.stream("m").chart("g", y="v")
    for widget in (table, chart):
        view_says(widget, type="ready", view="v1")
    first.stop()
    for widget in (table, chart):
        assert widget.state == "stopped" and widget._state == "stopped"
        assert widget.items == {"a": {"v": 1}}  # the views keep the last state, marked stopped
        assert "stopped" in repr(widget)
    view_says(table, type="ready", view="v2")  # a view opened now still says stopped
    assert table.state == "stopped"

    second = fixed_port_engines()
    second.stream("m").set("g", "c", {"v": 3})
    for widget in (table, chart):
        assert widget.state == "live" and widget.engine is second
        assert widget.items == {"c": {"v": 3}}
    assert subscriptions(second) == 2


def test_engines_on_free_ports_outside_a_kernel_are_independent():
    one = iii_live.start(port=0, background=True)
    two = iii_live.start(port=0, background=True)
    try:
        assert one is not two and one.port != two.port
        table = one.stream("m").table("g")
        two.stop()
        assert table.state == "live" and table.engine is one
        one.stream("m").set("g", "a", 1)
        assert table.items == {"a": 1}
    finally:
        one.stop()
        two.stop()
    assert table.state == "stopped"


def test_a_widget_subscribes_only_while_a_view_may_be_looking(engine):
    s = engine.stream("m")
    s.set("g", "a", {"v": 1})
    table = s.table("g")  # displayed soon: live, waiting for its view
    assert subscriptions(engine) == 1 and table.state == "live"
    view_says(table, type="ready", view="v1")
    view_says(table, type="ready", view="v2")  # displayed twice
    view_says(table, type="gone", view="v1")
    assert table.views == 1 and subscriptions(engine) == 1
    view_says(table, type="gone", view="v2")
    assert table.state == "paused" and table._state == "paused"
    assert subscriptions(engine) == 0 and table.items == {} and table._keyframe == {}
    assert table not in [ref() for ref in flusher._widgets]
    sent = table.messages_sent
    s.set("g", "a", {"v": 2})
    assert table.messages_sent == sent and table.items == {}  # nothing held, nothing sent

    view_says(table, type="ready", view="v3")  # the output shown again, the notebook reopened
    assert table.state == "live" and subscriptions(engine) == 1
    assert table._keyframe["items"] == [["a", {"v": 2}]]  # at once, from storage
    assert engine.status()["widgets"] == {"live": 1}


def test_of_twenty_tables_from_a_cell_run_twenty_times_only_the_one_shown_subscribes(engine):
    s = engine.stream("m")
    tables = []
    for run in range(20):
        if tables:
            view_says(tables[-1], type="gone", view=f"view{run - 1}")  # the output is replaced
        tables.append(s.table("g"))
        view_says(tables[-1], type="ready", view=f"view{run}")
    assert subscriptions(engine) == 1
    assert engine.status()["widgets"] == {"live": 1, "paused": 19}
    for i in range(100):
        s.set("g", str(i), {"i": i})
    wait_for(lambda: not tables[-1].session.coalescer.dirty)
    assert len(tables[-1].items) == 100 and all(t.items == {} for t in tables[:-1])


def test_a_display_no_view_claims_is_paused_after_a_lease(engine):
    table = engine.stream("m").table("never-shown")
    assert table.state == "live"
    table.flush(time.monotonic() + 2 * VIEW_LEASE_SECONDS)  # the flusher's next frames, later
    assert table.state == "paused" and subscriptions(engine) == 0
    table._repr_mimebundle_()  # displayed again from the kernel: live at once
    assert table.state == "live" and subscriptions(engine) == 1


def test_close_lets_go_at_once_and_the_views_say_closed(engine):
    s = engine.stream("m")
    table = s.table("g")
    view_says(table, type="ready", view="v1")
    table.close()
    assert subscriptions(engine) == 0 and table.state == "closed" and table._state == "closed"
    s.set("g", "late", 1)
    assert "late" not in table.items
    view_says(table, type="ready", view="v2")  # a view of a closed widget stays closed
    assert table.state == "closed" and subscriptions(engine) == 0
    engine.stop()
    assert table.state == "closed"
    table.close()


def test_a_widget_that_is_garbage_collected_lets_go_of_its_subscription(engine):
    table = engine.stream("m").table("g")
    assert subscriptions(engine) == 1
    collected = weakref.ref(table)
    ipywidgets.Widget.close(table)  # what ipywidgets holds it by: its registry and comm
    del table
    gc.collect()
    assert collected() is None
    assert subscriptions(engine) == 0 and engine.status()["widgets"] == {}


def test_malformed_view_messages_change_nothing(engine):
    table = engine.stream("m").table("g")
    view_says(table, type="ready", view="v1")
    for message in ({}, {"type": "gone"}, {"type": "gone", "view": 7}, {"type": "alive", "views": None}):
        view_says(table, **message)
    table._received(table, ["not", "a", "dict"], [])
    assert table.views == 1 and table.state == "live"


START_TWO = (
    "import iii_live\n"
    "a = iii_live.start(port=0, background=True{})\n"
    "b = iii_live.start(port=0, background=True)"
)
CHECK = "print(a is first[0], b is first[1], a is not b, t.engine is a, first[0].running)"


class Kernel:
    """A real IPython kernel, sent execute requests as JupyterLab sends them (with a cellId)."""

    def __init__(self) -> None:
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(kernel_name="python3")

    def run(self, code: str, cell_id: str | None = None) -> str:
        client = self.client
        metadata = {"cellId": cell_id} if cell_id else {}
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        request = client.session.msg("execute_request", content, metadata=metadata)
        client.shell_channel.send(request)
        reply = client.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != request["header"]["msg_id"]:
            reply = client.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        text = []
        while True:
            message = client.get_iopub_msg(timeout=60)
            if message["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                continue
            if message["msg_type"] == "stream":
                text.append(message["content"]["text"])
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return "".join(text).strip()

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel():
    started = Kernel()
    yield started
    started.stop()


@pytest.mark.subprocess
def test_in_a_kernel_a_start_cell_run_again_finds_the_engines_it_started_on_free_ports(kernel):
    """Re-running a cell returns (same arguments) or replaces (others) the engines it started,
    one by one; another cell starts engines of its own."""
    kernel.run(START_TWO.format(""), "start-cell")
    kernel.run("first = (a, b)\nt = a.stream('m').table('g')", "table-cell")
    kernel.run(START_TWO.format(""), "start-cell")  # the same arguments: the same engines
    assert kernel.run(CHECK) == "True True True True True"
    kernel.run(START_TWO.format(", token=True"), "start-cell")  # the first with others: replaced
    assert kernel.run(CHECK) == "False True True True False"  # and the table moved to it
    kernel.run(START_TWO.format(", token=True"), "another-cell")  # the same code elsewhere
    assert kernel.run(CHECK) == "False False True False False"


@pytest.mark.subprocess
def test_in_a_kernel_without_cell_ids_a_cell_is_known_by_its_source(kernel):
    kernel.run(START_TWO.format(""))
    kernel.run("first = (a, b)\nt = a.stream('m').table('g')")
    kernel.run(START_TWO.format(""))
    assert kernel.run(CHECK) == "True True True True True"
    kernel.run(START_TWO.format(", token=True"))  # edited: a cell of its own
    assert kernel.run(CHECK) == "False False True False True"
