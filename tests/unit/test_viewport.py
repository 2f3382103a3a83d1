"""The viewport protocol without I/O: requests taken as far as they make sense, windows kept
in place as rows come and go, sorted orders kept per write, values read only for what is
shown. A plain dict stands for storage; events are fed as the hub delivers them."""

from __future__ import annotations

import random

import pytest

from iii_live.protocol import row_order
from iii_live.protocol.row_order import ArrivalOrder, NewestFirst, SortedOrder
from iii_live.protocol.viewport import MAX_ROWS, Sort, TableWindows, WindowRequest, parse_window, project


def event(kind, item_id, data=None):
    return {
        "type": "stream",
        "timestamp": 0,
        "streamName": "s",
        "groupId": "g",
        "id": item_id,
        "event": {"type": kind, "data": data},
    }


class Group:
    """Storage and the windows that follow it: every write is stored, then its event applied."""

    def __init__(self, items=None, **options):
        self.stored = dict(items or {})
        self.windows = TableWindows(**options)
        self.windows.apply(event("sync", None, dict(self.stored)))
        self.fetched: list[list[str]] = []

    def set(self, item_id, value):
        kind = "update" if item_id in self.stored else "create"
        self.stored[item_id] = value
        self.windows.apply(event(kind, item_id, value))

    def delete(self, item_id):
        old = self.stored.pop(item_id)
        self.windows.apply(event("delete", item_id, old))

    def resync(self):
        self.windows.apply(event("sync", None, dict(self.stored)))

    def snapshot(self):
        """A second subscription's sync, then its events (which only the first applies)."""
        self.windows.build(event("sync", None, dict(self.stored)))
        self.windows.build(event("update", "00001", {"ignored": True}))

    def fetch(self, ids):
        self.fetched.append(sorted(ids))
        return {i: self.stored[i] for i in ids if i in self.stored}

    def frames(self):
        return {frame["view"]: frame for frame in self.windows.frames(self.fetch)}

    def ask(self, view="v", **request):
        self.windows.request(parse_window({"type": "window", "view": view, **request}))
        return self.frames().get(view)


def numbered(n):
    return {f"{i:05d}": {"i": i, "x": (i * 7919) % 1000, "name": f"n{i % 10}"} for i in range(n)}


def ids(frame):
    return [row[0] for row in frame["rows"]]


def test_requests_are_clipped_and_malformed_ones_without_a_view_dropped():
    for nothing in (None, "window", [], {"type": "window"}, {"view": 3}, {"view": "x" * 1000}):
        assert parse_window(nothing) is None
    clipped = parse_window(
        {
            "view": "v",
            "offset": -5,
            "before": 10**9,
            "after": 10**9,
            "req": "x",
            "sort": {"by": 7, "ascending": "no"},
            "columns": ["a", 3, None, "b.c", ""],
        }
    )
    assert clipped == WindowRequest("v", 0, 0, None, 0, MAX_ROWS, Sort(None, True), ("a", "b.c"))
    assert parse_window({"view": "v", "anchor": 5}).anchor is None
    assert parse_window({"view": "v", "offset": float("nan"), "after": True}).offset == 0
    assert parse_window({"view": "v", "offset": 1e300}).offset == 2**53
    assert parse_window({"view": "v", "sort": "price", "columns": "price"}).sort == Sort()


def test_a_window_holds_the_rows_it_asks_for_and_only_their_values_are_read():
    group = Group(numbered(1000))
    frame = group.ask(offset=500, before=2, after=5)
    assert (frame["total"], frame["offset"], frame["start"]) == (1000, 500, 498)
    assert ids(frame) == [f"{i:05d}" for i in range(498, 505)]
    assert frame["rows"][0][1] == {"i": 498, "x": (498 * 7919) % 1000, "name": "n8"}
    assert group.frames() == {}  # nothing changed: nothing sent
    assert all(len(batch) <= 105 for batch in group.fetched)  # never the whole group


def test_rows_written_or_deleted_above_move_the_offset_not_the_rows_in_view():
    group = Group(numbered(1000))
    group.ask(offset=500, before=0, after=3)
    for i in range(10):
        group.delete(f"{i:05d}")
    group.set("zzz-new", {"i": -1})  # arrives at the end
    frame = group.frames()["v"]
    assert frame["offset"] == 490 and frame["total"] == 991
    assert ids(frame) == ["00500", "00501", "00502"]
    group.set("00501", {"i": 501, "x": 0})  # a row in view changes: sent
    assert group.frames()["v"]["rows"][1][1] == {"i": 501, "x": 0}
    group.set("00900", {"i": 900})  # a row out of view: nothing for this window
    assert "v" not in group.frames()


def test_a_window_asked_for_by_the_id_a_view_shows_finds_that_row_where_it_is_now():
    group = Group(numbered(1000))
    for i in range(30):  # deleted above, after the view last heard of positions
        group.delete(f"{i:05d}")
    frame = group.ask(offset=500, anchor="00500", after=2)
    assert frame["offset"] == 470 and ids(frame) == ["00500", "00501"]
    frame = group.ask(offset=500, anchor="gone-by-now", after=2)  # no such row: the offset
    assert frame["offset"] == 500 and ids(frame) == ["00530", "00531"]


def test_a_deleted_first_row_hands_its_place_to_the_next():
    group = Group(numbered(100))
    group.ask(offset=50, after=2)
    group.delete("00050")
    frame = group.frames()["v"]
    assert frame["offset"] == 50 and ids(frame) == ["00051", "00052"]


def test_a_window_at_the_top_stays_at_the_top_newest_first():
    group = Group(numbered(10))
    frame = group.ask(offset=0, after=3, sort={"by": None, "ascending": False})
    assert ids(frame) == ["00009", "00008", "00007"]
    group.set("new", {"i": 10})
    frame = group.frames()["v"]
    assert frame["offset"] == 0 and ids(frame) == ["new", "00009", "00008"]


def test_sorting_by_a_field_needs_one_sync_then_follows_every_write():
    group = Group(numbered(1000))
    assert group.ask(offset=0, after=3, sort={"by": "x", "ascending": False}) is None
    assert group.windows.needs_snapshot
    group.snapshot()  # what the host does, through a second subscription
    assert not group.windows.needs_snapshot
    frame = group.frames()["v"]
    expected = sorted(group.stored.items(), key=lambda kv: (-kv[1]["x"], kv[0]))[:3]
    assert frame["rows"] == [[k, v] for k, v in expected]
    group.set("00001", {"i": 1, "x": 5000})  # moves to the top
    assert ids(group.frames()["v"])[0] == "00001"
    group.ask(offset=0, after=3, sort={"by": "x", "ascending": True})
    group.snapshot()
    assert group.frames()["v"]["rows"][0][1]["x"] == 0


def test_a_row_that_moves_by_sort_leaves_a_window_that_stays_put():
    group = Group({f"k{i}": {"x": i} for i in range(100)})
    group.ask(offset=40, after=3, sort={"by": "x"})
    group.snapshot()
    assert ids(group.frames()["v"]) == ["k40", "k41", "k42"]
    group.set("k40", {"x": 1000})
    frame = group.frames()["v"]
    assert frame["offset"] == 40 and ids(frame) == ["k41", "k42", "k43"]
    group.set("k99", {"x": -1})  # moves above the window: the offset follows
    frame = group.frames()["v"]
    assert frame["offset"] == 41 and ids(frame) == ["k41", "k42", "k43"]


def test_sort_or_columns_naming_missing_fields_order_by_id_and_carry_nothing():
    group = Group({"b": {"x": 1}, "a": {"x": 2}, "c": 7})
    group.ask(offset=0, after=10, sort={"by": "nope"}, columns=["nope", "x"])
    group.snapshot()
    frame = group.frames()["v"]
    assert frame["rows"] == [["a", {"x": 2}], ["b", {"x": 1}], ["c", 7]]


def test_an_offset_past_the_end_is_clipped_to_the_end():
    group = Group(numbered(10))
    frame = group.ask(offset=10**12, before=3, after=50)
    assert (frame["total"], frame["offset"], frame["start"]) == (10, 10, 7)
    assert ids(frame) == ["00007", "00008", "00009"]
    empty = Group({})
    assert empty.ask(offset=5)["rows"] == [] and empty.frames() == {}


def test_a_write_during_a_read_from_storage_wins_over_what_was_read():
    group = Group(numbered(1000))

    def slow_fetch(wanted):
        read = {i: group.stored[i] for i in wanted}
        group.set(wanted[0], {"i": "newer"})  # written, and its event applied, meanwhile
        return read

    group.windows.request(parse_window({"view": "w", "offset": 600, "after": 1}))
    frame = {f["view"]: f for f in group.windows.frames(slow_fetch)}["w"]
    assert frame["rows"] == [["00600", {"i": "newer"}]]


def test_max_rows_keeps_the_first_sorted_or_the_newest():
    group = Group(numbered(100), limit=5)
    frame = group.ask(offset=0, after=50)
    assert frame["total"] == 5 and ids(frame) == [f"{i:05d}" for i in range(95, 100)]
    frame = group.ask(offset=0, after=50, sort={"by": None, "ascending": False})
    assert ids(frame) == [f"{i:05d}" for i in range(99, 94, -1)]


def test_the_default_window_is_framed_as_the_view_without_an_id():
    group = Group(numbered(300), default_sort=Sort("i", False), columns=("i",))
    frame = group.frames()[""]
    assert frame["total"] == 300 and len(frame["rows"]) == 100
    assert frame["rows"][0] == ["00299", {"i": 299}]
    group.windows.forget("")  # never forgotten: every view starts from it
    group.set("00299", {"i": 1000})
    assert "" in group.frames()


def test_project_keeps_nested_paths_nested():
    value = {"a": {"b": 1, "c": 2}, "d": 3}
    assert project(value, ("a.b", "d", "zz")) == {"a": {"b": 1}, "d": 3}
    assert project(value, None) is value and project(5, ("a",)) == 5


@pytest.mark.parametrize("seed", range(3))
def test_orders_match_a_plain_sort_after_random_writes(seed, monkeypatch):
    monkeypatch.setattr(row_order, "COMPACT_AT", 8)
    rng = random.Random(seed)
    arrival, by_x = ArrivalOrder(), SortedOrder("x", ascending=False)
    stored: dict[str, dict] = {}
    first_written: list[str] = []
    for _ in range(3000):
        item_id = f"k{rng.randrange(200)}"
        if rng.random() < 0.3 and item_id in stored:
            del stored[item_id]
            first_written.remove(item_id)
            arrival.discard(item_id)
            by_x.discard(item_id)
        else:
            value = {"x": rng.choice([rng.randrange(50), None, f"t{rng.randrange(5)}"])}
            if item_id not in stored:
                first_written.append(item_id)
            stored[item_id] = value
            arrival.add(item_id)
            by_x.set(item_id, value)
        start, count = rng.randrange(len(stored) + 1), rng.randrange(1, 20)
        assert arrival.ids(start, count) == first_written[start : start + count]
        assert NewestFirst(arrival).ids(start, count) == first_written[::-1][start : start + count]
        rebuilt = SortedOrder("x", ascending=False)
        rebuilt.replace(stored)
        assert by_x.ids(0, len(stored)) == rebuilt.ids(0, len(stored))
        if stored:
            position = rng.randrange(len(stored))
            for order in (arrival, NewestFirst(arrival), by_x):
                assert order.position(order.anchor(position)) == position


def test_orders_built_from_a_snapshot_follow_writes_made_since_it_was_read():
    group = Group(numbered(500))
    group.ask(offset=0, after=2, sort={"by": "x", "ascending": False})
    read = dict(group.stored)  # the snapshot is read here...
    group.set("00007", {"i": 7, "x": 10**6})  # ...this write is delivered after its sync
    group.windows.build(event("sync", None, read))
    group.windows.apply(event("update", "00007", {"i": 7, "x": 10**6}))
    assert ids(group.frames()["v"])[0] == "00007"


def test_sorted_orders_kept_are_bounded_but_never_one_a_window_reads():
    group = Group(numbered(100))
    for column in ("i", "x", "name"):
        group.ask(view=column, offset=0, after=1, sort={"by": column})
        group.snapshot()
    assert len(group.windows._sorted) == 3  # each read by a window
    group.windows.forget("i")
    group.ask(view="x", offset=0, after=1, sort={"by": None})
    group.ask(view="more", offset=0, after=1, sort={"by": "i", "ascending": False})
    group.snapshot()
    assert set(group.windows._sorted) == {Sort("name"), Sort("i", False)}
