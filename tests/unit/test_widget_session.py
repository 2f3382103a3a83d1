"""The widget comm protocol without a kernel: coalescing, numbering, keyframes, ready/resync."""

from __future__ import annotations

from iii_live.protocol.widget_session import UNACKNOWLEDGED_KEYFRAME_SECONDS, Coalescer, WidgetSession


def event(kind, item_id, data=None):
    return {
        "type": "stream",
        "timestamp": 0,
        "streamName": "s",
        "groupId": "g",
        "id": item_id,
        "event": {"type": kind, "data": data},
    }


def test_latest_value_per_item_wins_and_deltas_are_numbered():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1}))
    assert c.take_delta() == {"type": "delta", "seq": 1, "upserts": [["a", 1]], "deletes": []}
    for i in range(1000):
        c.apply(event("update", "a", i))
    c.apply(event("create", "b", 5))
    c.apply(event("delete", "b", 5))
    assert c.take_delta() == {"type": "delta", "seq": 2, "upserts": [["a", 999]], "deletes": ["b"]}
    assert c.take_delta() is None
    assert c.mirror == {"a": 999}


def test_keyframe_folds_pending_changes_in():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1, "b": 2}))
    c.apply(event("update", "a", 3))
    assert c.keyframe() == {"seq": 1, "items": [["a", 3], ["b", 2]]}
    assert c.take_delta() is None
    c.apply(event("update", "b", 4))
    assert c.take_delta()["seq"] == 2


def test_resync_snapshot_becomes_a_delta_of_differences():
    c = Coalescer()
    c.apply(event("sync", None, {"a": 1, "b": 2}))
    c.take_delta()
    c.apply(event("sync", None, {"a": 1, "c": 3}))  # e.g. after a Redis outage
    assert c.take_delta() == {"type": "delta", "seq": 2, "upserts": [["c", 3]], "deletes": ["b"]}


def test_send_events_do_not_touch_state():
    c = Coalescer()
    assert not c.apply({"id": None, "event": {"type": "event", "event": {"type": "x", "data": 1}}})
    assert c.take_delta() is None


class Comm:
    def __init__(self) -> None:
        self.deltas: list[dict] = []
        self.keyframes: list[dict] = []

    def session(self) -> WidgetSession:
        return WidgetSession(self.deltas.append, self.keyframes.append)


def test_until_a_view_is_ready_keyframes_are_repeated_about_once_a_second():
    comm = Comm()
    session = comm.session()
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
    session.start(0.0)
    session.receive({"type": "ready", "seq": -1})
    assert session.flush(0.01) == 1 and len(comm.keyframes) == 2
    session.apply(event("create", "x", 1))
    session.flush(5.0)
    session.flush(10.0)
    assert len(comm.keyframes) == 2 and comm.deltas[-1]["upserts"] == [["x", 1]]  # acknowledged: no repeats
    session.receive({"type": "resync", "seq": 0})
    session.receive("not a message")
    session.flush(10.01)
    assert comm.keyframes[-1]["items"] == [["x", 1]] and session.messages_sent == 3
