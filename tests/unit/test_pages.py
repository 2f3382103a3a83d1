"""PagedGroup against a plain ordered dict: same items, same first-write order, same JSON."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from iii_live import codec
from iii_live.streams.adapters import pages
from iii_live.streams.adapters.pages import PagedGroup, array_json, object_json, split_values

# names without control characters, with the characters JSON escapes and non-ASCII ones
ids = st.text(alphabet=st.sampled_from('ab"\\é€/ 1'), min_size=1, max_size=6)
values = st.one_of(
    st.integers(-5, 5),
    st.text(alphabet=st.sampled_from('xy"\\\n\x01é'), max_size=4),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["k", "v"]), st.integers(0, 9), max_size=2),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), ids, values),
        st.tuples(st.just("pop"), ids, st.none()),
        st.tuples(st.just("extend"), st.lists(ids, max_size=40, unique=True), values),
    ),
    max_size=120,
)


def check(group: PagedGroup, model: dict[str, bytes]) -> None:
    assert len(group) == len(model)
    assert group.keys() == list(model)
    records = group.records()
    assert json.loads(object_json(records)) == {k: json.loads(v) for k, v in model.items()}
    assert list(json.loads(object_json(records))) == list(model)
    assert json.loads(array_json(records)) == [json.loads(v) for v in model.values()]
    assert split_values(records) == list(model.values())
    for item_id, value in model.items():
        assert bytes(group.get(item_id)) == value
        assert item_id in group


@settings(max_examples=300, deadline=None)
@given(operations)
def test_a_paged_group_behaves_as_an_ordered_dict(ops):
    group, model = PagedGroup(), {}
    for op, item_id, value in ops:
        if op == "put":
            value_json = codec.dumps(value)
            old = group.put(item_id, value_json)
            assert (None if old is None else bytes(old)) == model.get(item_id)
            model[item_id] = value_json
        elif op == "pop":
            old = group.pop(item_id)
            assert (None if old is None else bytes(old)) == model.pop(item_id, None)
        else:
            fresh = [i for i in item_id if i not in model]
            value_json = codec.dumps(value)
            group.extend(fresh, [value_json] * len(fresh))
            model.update(dict.fromkeys(fresh, value_json))
    check(group, model)


def test_items_beyond_the_loose_ones_are_packed_and_keep_their_order(monkeypatch):
    monkeypatch.setattr(pages, "LOOSE_ITEMS", 4)
    monkeypatch.setattr(pages, "PAGE_ITEMS", 3)
    group, model = PagedGroup(), {}
    for n in range(30):
        model[f"k{n}"] = codec.dumps({"n": n})
        group.put(f"k{n}", model[f"k{n}"])
    for n in range(0, 30, 4):  # rewrite paged and loose items, some with longer values
        model[f"k{n}"] = codec.dumps({"n": n, "pad": "x" * n})
        assert group.put(f"k{n}", model[f"k{n}"]) is not None
    for n in range(1, 30, 5):
        assert bytes(group.pop(f"k{n}")) == model.pop(f"k{n}")
    model["k1"] = codec.dumps("back")  # a deleted id comes back last
    group.put("k1", model["k1"])
    assert len(group._pages) > 1
    check(group, model)


def test_large_values_get_pages_of_their_own_size_limit(monkeypatch):
    monkeypatch.setattr(pages, "PAGE_BYTES", 64)
    group = PagedGroup()
    big = [codec.dumps("x" * 50) for _ in range(6)]
    names = [f"b{n}" for n in range(6)]
    group.extend(names, big)
    assert len(group._pages) == 6  # one record per page: each is over the page size
    assert split_values(group.records()) == big


def test_loose_items_are_packed_by_size_too(monkeypatch):
    monkeypatch.setattr(pages, "PAGE_BYTES", 64)
    monkeypatch.setattr(pages, "LOOSE_ITEMS", 2)
    group = PagedGroup()
    for n in range(5):
        group.put(f"b{n}", codec.dumps("x" * 50))
    record = len(b"\x00b0\x01") + 52
    assert [len(page) for page in group._pages.values()] == [2 * record, record]  # 64 bytes + 1 record
    assert group.keys() == [f"b{n}" for n in range(5)]
