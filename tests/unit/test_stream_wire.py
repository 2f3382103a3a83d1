"""The iii stream wrapper, byte for byte, and the client messages (spec §1.3, §1.4)."""

from __future__ import annotations

import json

import pytest

from iii_live.protocol import stream_wire
from iii_live.protocol.stream_wire import (
    CREATE,
    DELETE,
    EVENT,
    SYNC,
    UNAUTHORIZED,
    UPDATE,
    Event,
    EventDraft,
    decode_client_message,
)


def canonical(timestamp, stream, group, item, body):
    """The wrapper as the Rust engine serializes it: struct field order, compact, UTF-8."""
    wrapper = {
        "type": "stream",
        "timestamp": timestamp,
        "streamName": stream,
        "groupId": group,
        "id": item,
        "event": body,
    }
    return json.dumps(wrapper, separators=(",", ":"), ensure_ascii=False).encode()


VALUE = {"a": 1, "b": [True, None, 2.5], "c": {"d": 'é\u2028"q"'}}

CASES = [
    (Event("s", "g", None, 7, SYNC, [VALUE]), {"type": "sync", "data": [VALUE]}),
    (Event("s", "g", None, 7, SYNC, {"k": VALUE}), {"type": "sync", "data": {"k": VALUE}}),
    (Event("s", "g", "i", 7, SYNC, None), {"type": "sync", "data": None}),
    (Event("s", "g", "i", 7, SYNC, VALUE), {"type": "sync", "data": VALUE}),
    (Event("s", "g", "i", 7, CREATE, VALUE), {"type": "create", "data": VALUE}),
    (Event("s", "g", "i", 7, UPDATE, 3), {"type": "update", "data": 3}),
    (Event("s", "g", "i", 7, DELETE, VALUE), {"type": "delete", "data": VALUE}),
    (
        Event("s", "g", None, 7, EVENT, {"user": "al"}, custom_type="typing"),
        {"type": "event", "event": {"type": "typing", "data": {"user": "al"}}},
    ),
    (
        Event("s", "g", "i", 7, EVENT, None, custom_type="ping"),
        {"type": "event", "event": {"type": "ping", "data": None}},
    ),
    (Event("s", "g", "i", 7, UNAUTHORIZED), {"type": "unauthorized"}),
    (Event("s", "g", None, 7, UNAUTHORIZED, "too long"), {"type": "unauthorized", "reason": "too long"}),
]


@pytest.mark.parametrize(("event", "body"), CASES, ids=[f"{e.kind}-{e.item_id}" for e, _ in CASES])
def test_every_event_kind_is_the_canonical_frame(event, body):
    assert event.frame == canonical(7, "s", "g", event.item_id, body)
    assert event.message == json.loads(event.frame)


def test_names_are_escaped_as_json():
    event = Event('st"r', "g\\1", "ü/\n", 1, CREATE, 0)
    assert json.loads(event.frame)["streamName"] == 'st"r'
    assert event.frame == canonical(1, 'st"r', "g\\1", "ü/\n", {"type": "create", "data": 0})


def test_stored_json_is_used_as_is():
    event = Event("s", "g", "i", 1, UPDATE, {"a": 1}, data_json=b'{"a": 1}')
    assert event.frame.endswith(b'"data":{"a": 1}}}')


@pytest.mark.parametrize("kind", [CREATE, UPDATE, DELETE])
def test_draft_frame_parts_assemble_the_same_frame(kind):
    """Redis scripts build frames from these parts; they must equal the Python frame."""
    draft = EventDraft("s:1", "g", "ü", 99)
    head, middle = draft.frame_parts()
    data = b'{"x":[1,2]}'
    assembled = head + kind.encode() + middle + data + b"}}"
    assert assembled == draft.event(kind, {"x": [1, 2]}, data).frame


@pytest.mark.parametrize(("event", "_body"), CASES[:9])
def test_decode_keeps_the_received_bytes(event, _body):
    received = bytes(bytearray(event.frame))
    decoded = stream_wire.decode(received)
    assert decoded.frame is received  # forwarded as received, never re-serialized
    assert (decoded.kind, decoded.item_id, decoded.data, decoded.custom_type) == (
        event.kind,
        event.item_id,
        event.data,
        event.custom_type,
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"{}",
        b'{"event":{}}',
        b'{"streamName":1,"groupId":"g","timestamp":1,"event":{"type":"x"}}',
    ],
)
def test_decode_refuses_what_is_not_a_wrapper(raw):
    with pytest.raises(ValueError):
        stream_wire.decode(raw)


def test_client_join_and_leave():
    join = decode_client_message(
        '{"type":"join","data":{"subscriptionId":"s","streamName":"a","groupId":"b","id":"c","x":1}}'
    )
    assert (join.type, join.subscription_id, join.stream_name, join.group_id, join.item_id) == (
        "join",
        "s",
        "a",
        "b",
        "c",
    )
    assert join.data is not None and join.data["x"] == 1
    leave = decode_client_message(
        b'{"type":"leave","data":{"subscriptionId":"s","streamName":"a","groupId":"b"}}'
    )
    assert (leave.type, leave.item_id) == ("leave", None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("nope", "not valid JSON"),
        ("[1]", "not a JSON object"),
        ('{"type":"ping"}', "unknown message type"),
        ('{"type":"join","data":[]}', "`data` must be an object"),
        ('{"type":"join","data":{"subscriptionId":1}}', "subscriptionId"),
        ('{"type":"join","data":{"subscriptionId":"s","streamName":"a","groupId":"b","id":5}}', "`data.id`"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_client_message_errors_say_what_is_wrong(raw, reason):
    with pytest.raises(ValueError, match=reason):
        decode_client_message(raw)
