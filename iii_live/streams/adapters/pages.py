"""A group's items packed into shared pages: the kv adapter's in-memory form of a group.

A ``dict`` of ``item_id -> JSON bytes`` costs, per item, the id, a bytes object (33 bytes
of header, rounded up to 16) and the dict slot. Here the values of all but the newest
items live in *records* packed into pages (bytearrays of up to ``PAGE_ITEMS`` records);
a dict maps each id to its page. A paged item costs its id, its dict slot and its record,
and no object of its own: about 110 bytes plus its JSON, instead of about 130.

The newest ``LOOSE_ITEMS`` items stay loose, as plain bytes in a dict, where a write is a
dict store: a small group, or the items a feed keeps rewriting, never pay for a search in
a page. When there are more, the oldest loose ones are packed into a new page.

A record is ``\\x00``, the item id as JSON without its quotes, ``\\x01`` and the value's
JSON. Neither byte occurs in JSON (control characters are escaped), so ``\\x00`` starts a
record and the ``\\x01`` after it ends the id. Records never move between pages and pages
are only added after the others, so pages in creation order, then the loose items, hold
the group in first-write order. Replacing ``\\x00`` by ``,"`` and ``\\x01`` by ``":``
turns the records into the group as a JSON object: whole-group reads and snapshots are a
few passes in C, not a loop per item.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, islice, pairwise, repeat

import numpy as np
import orjson

PAGE_ITEMS = 16
"""Records per page: memory per item falls with it, a search within a page grows with it."""
PAGE_BYTES = 2048
"""A page holds fewer records when they are large (about this many bytes, plus one record),
so rewriting one moves less memory."""
LOOSE_ITEMS = 256
"""The newest items kept loose (plain bytes in a dict) before they are packed into pages."""

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_ONE_SEPARATOR = bytes.maketrans(b"\x01", b"\x00")
_KEY_PARTS = re.compile(rb"\x00[^\x01]*\x01")


def needle(item_id: str) -> bytes:
    """The start of an item's record: ``\\x00``, the id as in JSON without its quotes, ``\\x01``."""
    if '"' in item_id or "\\" in item_id:
        return b"\x00%b\x01" % orjson.dumps(item_id)[1:-1]
    return f"\x00{item_id}\x01".encode()


def needles(item_ids: Sequence[str]) -> list[bytes]:
    """``needle`` of many ids: in a few passes in C when none needs escaping."""
    names = list(item_ids)
    if _NEEDS_ESCAPE.search("".join(names)) is None:
        try:
            return ("\x00" + "\x01\x1f\x00".join(names) + "\x01").encode().split(b"\x1f")
        except UnicodeEncodeError:
            pass
    return [needle(item_id) for item_id in names]


class PagedGroup:
    __slots__ = ("_loose", "_page_of", "_pages")

    def __init__(self) -> None:
        self._loose: dict[str, bytes] = {}
        """The newest items, in first-write order: all of them newer than any paged one."""
        self._page_of: dict[str, bytearray] = {}
        self._pages: dict[int, bytearray] = {}
        """Every page by ``id()``, in creation order."""

    @classmethod
    def from_items(cls, items: dict[str, bytes]) -> PagedGroup:
        group = cls()
        group.extend(list(items), list(items.values()))
        return group

    def __len__(self) -> int:
        return len(self._loose) + len(self._page_of)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._loose or item_id in self._page_of

    def keys(self) -> list[str]:
        """Item ids in first-write order."""
        return [*self._page_of, *self._loose]

    def get(self, item_id: str) -> bytes | bytearray | None:
        """The value's JSON (not to be modified), or None."""
        value = self._loose.get(item_id)
        if value is not None:
            return value
        page = self._page_of.get(item_id)
        if page is None:
            return None
        _, start, end = _find(page, item_id)
        return page[start:end]

    def put(self, item_id: str, value_json: bytes) -> bytes | bytearray | None:
        """Store a value; returns the previous one, or None for a new item."""
        loose = self._loose
        old = loose.get(item_id)
        if old is not None:
            loose[item_id] = value_json
            return old
        page = self._page_of.get(item_id)
        if page is None:
            loose[item_id] = value_json
            if len(loose) > LOOSE_ITEMS:
                self._pack(PAGE_ITEMS)
            return None
        _, start, end = _find(page, item_id)
        old_json = page[start:end]
        if old_json != value_json:
            page[start:end] = value_json
        return old_json

    def pop(self, item_id: str) -> bytes | bytearray | None:
        """Remove an item; returns its value, or None if it was not there."""
        old = self._loose.pop(item_id, None)
        if old is not None:
            return old
        page = self._page_of.pop(item_id, None)
        if page is None:
            return None
        record, start, end = _find(page, item_id)
        old_json = page[start:end]
        del page[record:end]
        if not page:
            del self._pages[id(page)]
        return old_json

    def extend(self, item_ids: Sequence[str], values_json: Sequence[bytes]) -> None:
        """Append items that are not in the group yet, in order, packed into pages at once."""
        if not item_ids:
            return
        self._pack(len(self._loose))
        records: list[bytes] = [b""] * (2 * len(item_ids))
        records[0::2] = needles(item_ids)
        records[1::2] = values_json
        sizes = np.fromiter(map(len, records), np.int64, len(records))
        ends = np.cumsum(sizes[0::2] + sizes[1::2])
        by_count = np.arange(0, len(item_ids), PAGE_ITEMS)
        by_size = np.searchsorted(ends, np.arange(0, ends[-1], PAGE_BYTES), side="right")
        bounds = [*np.union1d(by_count, by_size).tolist(), len(item_ids)]
        pages = [bytearray(b"".join(records[2 * a : 2 * b])) for a, b in pairwise(bounds)]
        for page in pages:
            self._pages[id(page)] = page
        counts = [b - a for a, b in pairwise(bounds)]
        self._page_of.update(zip(item_ids, chain.from_iterable(map(repeat, pages, counts)), strict=True))

    def _pack(self, count: int) -> None:
        """Move the ``count`` oldest loose items into new pages, each built at its exact size."""
        loose = self._loose
        item_ids: list[str] = []
        records: list[bytes] = []
        size = 0
        for item_id, value in list(islice(loose.items(), count)):
            if len(item_ids) == PAGE_ITEMS or (item_ids and size > PAGE_BYTES):
                self._add_page(item_ids, records)
                item_ids, records, size = [], [], 0
            records.append(needle(item_id) + value)
            item_ids.append(item_id)
            size += len(records[-1])
            del loose[item_id]
        if item_ids:
            self._add_page(item_ids, records)

    def _add_page(self, item_ids: list[str], records: list[bytes]) -> None:
        page = bytearray(b"".join(records))
        self._pages[id(page)] = page
        self._page_of.update(zip(item_ids, repeat(page)))

    def records(self) -> bytes:
        """Every record, in first-write order."""
        return b"".join(chain(self._pages.values(), [self.loose_records()]))

    def pages(self) -> list[bytearray]:
        """The pages, in order (their records are the older items, in first-write order)."""
        return list(self._pages.values())

    def loose_records(self) -> bytes:
        """The records of the loose items (the newest), in first-write order."""
        return b"".join(needle(item_id) + value for item_id, value in self._loose.items())


def object_json(records: bytes) -> bytearray:
    """``{"item_id": value, ...}`` from a group's ``records()``: the members with their
    leading comma turned into the brace in place, so a large group is copied once more, not
    three times."""
    text = bytearray(object_members(records))
    text[0:1] = b"{"
    text += b"}"
    return text


def object_members(records: bytes) -> bytes:
    """``,"item_id":value`` for each record: the members of the group's JSON object."""
    return records.replace(b"\x00", b',"').replace(b"\x01", b'":')


def array_json(records: bytes) -> bytes:
    """``[value, ...]`` from a group's ``records()``."""
    return b"[" + _KEY_PARTS.sub(b",", records)[1:] + b"]"


def split_values(records: bytes) -> list[bytes]:
    """Each item's JSON value, in order, from a group's ``records()`` (in C: the separators
    become one, then every other part is a value)."""
    return records.translate(_ONE_SEPARATOR).split(b"\x00")[2::2]


def _find(page: bytearray, item_id: str) -> tuple[int, int, int]:
    """``(record start, value start, value end)`` of an item known to be on ``page``."""
    start_of = needle(item_id)
    record = page.find(start_of)
    start = record + len(start_of)
    end = page.find(b"\x00", start)
    return record, start, len(page) if end < 0 else end
