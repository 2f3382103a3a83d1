"""The widget comm protocol without a kernel: coalescing, numbering, keyframes, views coming
and going (ready, gone, alive, leases), resync."""

from __future__ import annotations

from iii_live.protocol.stream_wire import Event
from iii_live.protocol.widget_session import (
    UNACKNOWLEDGED_KEYFRAME_SECONDS,
    VIEW_LEASE_SECONDS,
    Coalescer,
    Viewers,
    WidgetSession,
)

LEASE = VIEW_LEASE_SECONDS


def event(kind, item_id, data=None, custom_type=None):
    return Event("s", "g", item_id, 0, kind, data, custom_type=custom_type)


def delta(coalescer):
    """The coalescer's next delta as plain data (None when nothing changed)."""
    taken = coalescer.take_delta()
    if taken is None:
        return None
    return {"seq": taken.seq, "upserts": [[k, v] for k, v in taken.upserts.items()], "deletes": taken.deletes}


def test_latest_value_per_item_wins_and_deltas_are_numbered():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1}))
    assert delta(c) == {"seq": 1, "upserts": [["a", 1]], "deletes": []}
    for i in range(1000):
        c.apply(event("update", "a", i))
    c.apply(event("create", "b", 5))
    c.apply(event("delete", "b", 5))
    assert delta(c) == {"seq": 2, "upserts": [["a", 999]], "deletes": ["b"]}
    assert delta(c) is None
    assert c.mirror == {"a": 999}


def test_the_last_change_of_an_item_decides_whether_it_is_upserted_or_deleted():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1, "b": 2}))
    delta(c)
    c.apply(event("delete", "a", 1))
    c.apply(event("create", "a", 3))  # back before the frame: an upsert, not a delete
    c.apply(event("update", "b", 4))
    c.apply(event("delete", "b", 4))
    c.apply(event("create", "c", 5))
    assert delta(c) == {"seq": 2, "upserts": [["a", 3], ["c", 5]], "deletes": ["b"]}
    c.apply(event("update", "c", 6))
    assert delta(c) == {"seq": 3, "upserts": [["c", 6]], "deletes": []}
    assert c.mirror == {"a": 3, "c": 6}


def test_keyframe_folds_pending_changes_in():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1, "b": 2}))
    c.apply(event("update", "a", 3))
    assert c.keyframe() == {"seq": 1, "items": [["a", 3], ["b", 2]]}
    assert c.take_delta() is None
    c.apply(event("update", "b", 4))
    assert c.take_delta().seq == 2


def test_resync_snapshot_becomes_a_delta_of_differences():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1, "b": 2}))
    c.take_delta()
    c.apply(event("sync", None, {"a": 1, "c": 3}))  # e.g. after a Redis outage
    assert delta(c) == {"seq": 2, "upserts": [["c", 3]], "deletes": ["b"]}


def test_send_events_do_not_touch_state():
    c = Coalescer()
    c.apply(event("event", None, 1, custom_type="x"))
    c.apply(event("event", "a", 1, custom_type="x"))
    assert delta(c) is None and c.mirror == {}


def read_delta(content: dict, buffers: list[bytes]) -> dict:
    """A delta message's upserts as ``[id, value]`` pairs (what the browser rebuilds from it)."""
    upserts = []
    for run in content["runs"]:
        if "values" in run:
            upserts += [[i, v] for i, v in zip(run["ids"], run["values"], strict=True)]
            continue
        columns = [
            (
                name,
                ref
                if kind == "json"
                else memoryview(buffers[ref]).cast("d" if kind == "f64" else "i").tolist(),
            )
            for name, kind, ref in run["columns"]
        ]
        upserts += [[i, {name: column[k] for name, column in columns}] for k, i in enumerate(run["ids"])]
    return {"seq": content["seq"], "upserts": upserts, "deletes": content["deletes"]}


class Comm:
    def __init__(self) -> None:
        self.deltas: list[dict] = []
        self.keyframes: list[dict] = []

    def send(self, content: dict, buffers: list[bytes] | None = None) -> None:
        self.deltas.append(read_delta(content, buffers or []))

    def session(self) -> WidgetSession:
        return WidgetSession(self.send, self.keyframes.append)


def test_while_a_display_waits_for_its_view_keyframes_are_repeated_about_once_a_second():
    comm = Comm()
    session = comm.session()
    session.viewers.displayed(0.0)
    session.start(0.0)
    session.apply(event("sync", None, {"a": 1}))
    assert session.flush(0.1) == 1 and comm.deltas[-1]["upserts"] == [["a", 1]]  # a view may not exist yet
    assert session.flush(0.2) == 0
    session.apply(event("update", "a", 2))
    session.flush(0.3)
    assert len(comm.keyframes) == 1
    assert session.flush(UNACKNOWLEDGED_KEYFRAME_SECONDS + 0.01) == 1  # stale: a keyframe carries it all
    assert comm.keyframes[-1] == {"seq": 2, "items": [["a", 2]]}


def test_ready_and_resync_get_a_keyframe_at_once_then_deltas_only():
    comm = Comm()
    session = comm.session()
    session.viewers.displayed(0.0)
    session.start(0.0)
    session.receive({"type": "ready", "view": "v1", "seq": -1}, 0.0)
    assert session.flush(0.01) == 1 and len(comm.keyframes) == 2
    session.apply(event("create", "x", 1))
    session.flush(5.0)
    session.flush(10.0)
    assert len(comm.keyframes) == 2 and comm.deltas[-1]["upserts"] == [["x", 1]]  # claimed: no repeats
    session.receive({"type": "resync", "seq": 0}, 10.0)
    malformed = ("not a message", None, {"type": "ready"}, {"type": "alive", "views": "v1"}, {"view": 1})
    for message in malformed:
        session.receive(message, 10.0)
    session.flush(10.01)
    assert comm.keyframes[-1]["items"] == [["x", 1]] and session.messages_sent == 3


def test_pause_forgets_the_state_and_empties_the_synced_keyframe_but_keeps_counting():
    comm = Comm()
    session = comm.session()
    session.apply(event("sync", None, {"a": 1}))
    session.start(0.0)
    session.pause()
    assert session.coalescer.mirror == {} and comm.keyframes[-1] == {}
    session.apply(event("sync", None, {"a": 2}))
    session.start(1.0)
    assert comm.keyframes[-1] == {"seq": 2, "items": [["a", 2]]}  # later than any the views hold


def test_views_come_and_go_by_what_they_say():
    viewers = Viewers()
    assert not viewers.looking(0.0, 0.0)
    viewers.displayed(0.0)
    assert viewers.looking(1.0, 0.0) and viewers.waiting
    viewers.ready("a", 1.0)
    viewers.ready("b", 1.0)  # displayed twice
    assert not viewers.waiting and len(viewers) == 2
    viewers.gone("a")
    viewers.gone("never-seen")
    assert viewers.looking(2.0, 0.0) and len(viewers) == 1
    viewers.gone("b")
    assert not viewers.looking(2.0, 0.0)


def test_a_view_that_stops_renewing_its_lease_is_dropped_but_only_while_the_kernel_could_hear():
    viewers = Viewers()
    viewers.ready("reloaded-away", 0.0)
    viewers.ready("open", 0.0)
    # a cell ran for a long time: nothing could be heard, nobody is dropped
    assert viewers.looking(10 * LEASE, None) and len(viewers) == 2
    # the cell ended at 10 x LEASE; only the open view renews
    assert viewers.alive(["open"], 10 * LEASE + 1) == []
    assert viewers.looking(11 * LEASE - 1, 10 * LEASE) and len(viewers) == 2  # not a whole lease yet
    assert viewers.looking(11 * LEASE + 0.5, 10 * LEASE) and len(viewers) == 1
    assert viewers.alive(["open", "new"], 11 * LEASE + 1) == ["new"]  # e.g. a view it had dropped


def test_a_display_no_view_claims_expires_after_a_lease_of_hearing():
    viewers = Viewers()
    viewers.displayed(0.0)
    assert viewers.looking(5 * LEASE, None)  # the cell that displayed it still runs
    assert viewers.looking(5 * LEASE + 1, 5 * LEASE)
    assert not viewers.looking(6 * LEASE + 1, 5 * LEASE)


def test_an_unknown_view_that_says_it_is_alive_gets_a_keyframe():
    comm = Comm()
    session = comm.session()
    session.start(0.0)
    session.receive({"type": "alive", "views": ["v9", 3]}, 1.0)
    assert len(session.viewers) == 1
    assert session.flush(1.0) == 1 and len(comm.keyframes) == 2
    session.receive({"type": "alive", "views": ["v9"]}, 2.0)
    assert session.flush(2.0) == 0  # a known view's renewal costs nothing
