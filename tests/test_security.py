"""Network edges: binding, origins, tokens, auth, limits, and fuzzing what clients send."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iii import InitOptions, register_worker
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import iii_live
from iii_live import InvocationError
from iii_live.protocol.stream_wire import decode_client_message
from iii_live.streams.stream_functions import FUNCTIONS

from .conftest import Client, call, wait_for

TOKEN = "s3cret-token-for-tests"


def http_status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_both_ports_bind_loopback_by_default(engine):
    listening = [s.getsockname() for server in engine._servers for s in server._sockets.values()]
    assert {address[0] for address in listening} == {"127.0.0.1"}
    assert {address[1] for address in listening} == {engine.port, engine.engine_port}


def test_binding_beyond_loopback_generates_a_token():
    engine = iii_live.start(host="0.0.0.0", port=0, background=True)
    try:
        assert engine.token and len(engine.token) >= 24
        with pytest.raises(InvalidStatus) as info:
            connect(f"ws://127.0.0.1:{engine.port}/stream/s/g", open_timeout=5)
        assert info.value.response.status_code == 401
        with connect(engine.subscribe_url("s", "g").replace("0.0.0.0", "127.0.0.1"), open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["event"]["type"] == "sync"
    finally:
        engine.stop()


@pytest.fixture
def guarded():
    engine = iii_live.start(port=0, background=True, token=TOKEN)
    yield engine
    engine.stop()


def test_token_is_required_on_every_port_and_page(guarded):
    base = guarded.stream_url
    for url in (f"{base}/stream/s/g", f"{base}/stream/s/g?token=wrong", base, guarded.engine_url):
        with pytest.raises(InvalidStatus) as info:
            connect(url, open_timeout=5)
        assert info.value.response.status_code == 401
    with connect(f"{base}/stream/s/g?token={TOKEN}", open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["event"]["type"] == "sync"
    with connect(
        f"{base}/stream/s/g", additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=5
    ) as ws:
        assert json.loads(ws.recv(timeout=5))["event"]["type"] == "sync"
    http = base.replace("ws://", "http://", 1)
    assert http_status(f"{http}/") == 401
    assert http_status(f"{http}/_iii/streams") == 401
    assert http_status(f"{http}/_iii/streams?token={TOKEN}") == 200
    assert http_status(guarded.browser_url) == 200
    assert http_status(f"{http}/_iii/static/page.js") == 200  # the public bundle needs no token
    assert TOKEN in guarded.subscribe_url("s", "g")


def test_sdk_worker_presents_the_token_in_a_header(guarded):
    worker = register_worker(
        guarded.engine_url, InitOptions(headers={"Authorization": f"Bearer {TOKEN}"}, otel={"enabled": False})
    )
    try:
        result = worker.trigger(
            {
                "function_id": "stream::set",
                "payload": {"stream_name": "s", "group_id": "g", "item_id": "i", "data": 1},
            }
        )
        assert result == {"old_value": None, "new_value": 1}
    finally:
        worker.shutdown()


def test_auth_required_refuses_failed_or_negative_auth():
    engine = iii_live.start(port=0, background=True, auth_function="auth", auth_required=True)
    try:

        def auth(request):
            token = request["query_params"].get("key", [""])[0]
            if token == "boom":
                raise RuntimeError("auth backend down")
            return {"unauthorized": token != "good", "context": {"key": token}}

        engine.register_function("auth", auth)
        for key in ("bad", "boom"):
            with pytest.raises(InvalidStatus) as info:
                connect(f"{engine.stream_url}/stream/s/g?key={key}", open_timeout=5)
            assert info.value.response.status_code == 403
        with connect(f"{engine.stream_url}/stream/s/g?key=good", open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["event"]["type"] == "sync"
    finally:
        engine.stop()


@pytest.fixture
def tight():
    engine = iii_live.start(
        port=0,
        background=True,
        max_message_size=4096,
        max_payload_bytes=2048,
        max_json_depth=8,
        max_name_length=16,
        max_subscriptions_per_connection=3,
        max_connections_per_address=5,
    )
    yield engine
    engine.stop()


def test_oversized_frame_closes_with_1009(tight):
    c = Client(tight.stream_url)
    c.send("x" * 5000)
    with pytest.raises(ConnectionClosed):
        c.recv(timeout=5)
    assert c.ws.close_code == 1009


def test_payload_size_and_depth_limits(tight):
    with pytest.raises(InvocationError, match="max_payload_bytes"):
        call(tight, "stream::set", stream_name="s", group_id="g", item_id="i", data="x" * 3000)
    deep = current = {}
    for _ in range(12):
        current["d"] = {}
        current = current["d"]
    with pytest.raises(InvocationError, match="max_json_depth"):
        call(tight, "stream::set", stream_name="s", group_id="g", item_id="i", data=deep)
    with pytest.raises(InvocationError, match="max_payload_bytes"):
        call(tight, "stream::send", stream_name="s", group_id="g", type="t", data="x" * 3000)
    call(tight, "stream::set", stream_name="s", group_id="g", item_id="i", data={"a": "x" * 1000})
    with pytest.raises(InvocationError, match="max_payload_bytes"):
        call(
            tight,
            "stream::update",
            stream_name="s",
            group_id="g",
            item_id="i",
            ops=[{"type": "set", "path": "b", "value": "y" * 1500}],
        )
    assert call(tight, "stream::get", stream_name="s", group_id="g", item_id="i") == {"a": "x" * 1000}
    with pytest.raises(InvocationError, match="`type`.*max_payload_bytes"):  # an event's type counts too
        call(tight, "stream::send", stream_name="s", group_id="g", type="t" * 5000, data=None)


def test_name_length_limit_in_functions_and_joins(tight):
    with pytest.raises(InvocationError, match="max_name_length"):
        call(tight, "stream::set", stream_name="s" * 17, group_id="g", item_id="i", data=1)
    c = Client(tight.stream_url)
    c.join("sub", "s" * 17, "g")
    refusal = c.recv()
    assert refusal["event"]["type"] == "unauthorized"
    assert "max_name_length" in refusal["event"]["reason"]
    c.close()


def test_subscriptions_per_connection_limit(tight):
    c = Client(tight.stream_url)
    for i in range(3):
        c.join(f"s{i}", "s", f"g{i}")
        assert c.recv()["event"]["type"] == "sync"
    c.join("s3", "s", "g3")
    refusal = c.recv()
    assert refusal["event"]["type"] == "unauthorized"
    assert "max_subscriptions_per_connection=3" in refusal["event"]["reason"]
    c.join("s0", "s", "g9")  # re-joining an existing subscription id is not a new one
    assert c.recv()["event"]["type"] == "sync"
    c.close()


def test_connections_per_address_limit(tight):
    clients = [Client(f"{tight.stream_url}/stream/s/g") for _ in range(5)]
    with pytest.raises(InvalidStatus) as info:
        connect(f"{tight.stream_url}/stream/s/g", open_timeout=5)
    assert info.value.response.status_code == 429
    clients.pop().close()
    wait_for(lambda: tight.status()["connections"] == 4)
    clients.append(Client(f"{tight.stream_url}/stream/s/g"))  # a freed slot can be taken again
    for c in clients:
        c.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
FIELDS = ["stream_name", "group_id", "item_id", "data", "type", "id", "ops"]
payloads = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=7),
    st.fixed_dictionaries(
        {
            "stream_name": st.text(max_size=300),
            "group_id": st.text(max_size=5),
            "item_id": st.text(max_size=5),
        },
        optional={
            "data": json_values,
            "ops": st.lists(
                st.dictionaries(st.sampled_from(["type", "path", "value", "by"]), json_values), max_size=3
            ),
        },
    ),
)


@pytest.fixture(scope="module")
def fuzz_engine():
    engine = iii_live.start(port=0, background=True)
    engine.stream("canary").set("g", "i", {"alive": True})
    yield engine
    engine.stop()


@pytest.mark.slow
@pytest.mark.parametrize("function_id", FUNCTIONS)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads)
def test_fuzz_function_payloads(fuzz_engine, function_id, payload):
    try:
        fuzz_engine.trigger({"function_id": function_id, "payload": payload})
    except InvocationError as exc:
        assert exc.code in ("deserialization_error",) or exc.code.startswith("STREAM_")
        assert exc.message
    assert fuzz_engine.stream("canary").get("g", "i") == {"alive": True}


frames = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["join", "leave", "ping", ""]),
            "data": json_values
            | st.dictionaries(
                st.sampled_from(["subscriptionId", "streamName", "groupId", "id"]),
                json_values | st.text(max_size=300),
                max_size=4,
            ),
        }
    ).map(json.dumps),
)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(raw=frames)
def test_fuzz_client_frame_parser(raw):
    try:
        message = decode_client_message(raw)
    except ValueError:
        return
    assert message.type in ("join", "leave")
    assert all(isinstance(v, str) for v in (message.subscription_id, message.stream_name, message.group_id))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=10))
def test_fuzz_frames_over_a_live_socket(fuzz_engine, batch):
    with connect(fuzz_engine.stream_url, open_timeout=5, max_size=None) as ws:
        for frame in batch:
            ws.send(frame)
        ws.send(
            json.dumps(
                {"type": "join", "data": {"subscriptionId": "canary", "streamName": "canary", "groupId": "g"}}
            )
        )
        while True:  # fuzzed joins may be answered first; the canary's sync must come
            message = json.loads(ws.recv(timeout=5))
            if message["streamName"] == "canary" and message["event"]["type"] == "sync":
                break
        assert message["event"]["data"] == [{"alive": True}]
