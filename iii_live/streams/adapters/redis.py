"""The ``redis`` adapter: streams shared by engines in other processes and machines (spec §4.3).

The layout is the Rust engine's, so an iii-live engine and an iii engine can share one
Redis: one hash per group at ``stream:{stream}:{group}``, the item id as field, compact JSON
as value, and every change published on ``stream::events`` as the wrapper frame.

That key is ambiguous when names hold ``:`` (``stream:a:b:c`` could be ``a:b``/``c`` or
``a``/``b:c``). So only streams whose names have no ``:`` use it; a group there may hold
``:``, as the first ``:`` after ``stream:`` always ends the stream name. A stream whose name
has a ``:`` lives at ``iii-live:stream:{stream}:{group}`` with ``%`` and ``:`` of the stream
name percent-encoded: distinct from every other pair, and out of the ``stream:*`` keys an
iii engine scans and splits.

Beyond the Rust engine:

- a write and its event are one atomic step (a script publishes next to its HSET, an
  update publishes inside its transaction), so every engine sees a group's events in the
  order of its writes, whoever wrote them;
- frames received from Redis are forwarded to WebSocket clients as received, never
  re-serialized;
- the subscription is watched: a probe published to this engine's own channel must come
  back, a lost or silently reconnected connection is re-established within a second or
  two, and because events may have been missed meanwhile (an outage, or a pub/sub buffer
  overflow that made Redis drop us), every local subscriber is resynced from storage;
- ``status()`` and the log say when Redis is unreachable; writes then fail with an error
  that says so, and nothing acknowledged is lost;
- bulk writes (``set_many``) run as scripts of ``BULK_ROWS`` rows, each publishing the
  events of its changed rows;
- retention keeps its state in keys beside iii's hashes: the policies in the hash
  ``iii-live:retention`` (field ``stream`` for every group of it, ``stream\ngroup`` for
  one: names hold no control characters), and for each retained group a sorted set of its
  item ids by last write time (``iii-live:recency:`` + the group's hash key, times from
  Redis's clock in microseconds), listed in the set ``iii-live:recency``. Every iii-live
  engine sharing the Redis reads the policies there, in the script of each write, which
  evicts (``HDEL`` and a ``delete`` frame) atomically with the write that calls for it.
  Items written by other clients (an iii engine) are not in the sorted set: retention
  leaves them alone until an iii-live engine writes them.
"""

from __future__ import annotations

import builtins
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.client
from redis.exceptions import RedisError, WatchError

from ... import codec
from ...errors import ConfigError
from ...protocol import stream_wire
from ...protocol.stream_wire import CREATE, DELETE, UPDATE, Event, EventDraft
from ..retention import Retention, Stamp
from ..update_ops import MISSING, UpdateOp, updated_value
from .base import BulkResult, CheckValue, EventSink

log = logging.getLogger("iii_live.redis")

CHANNEL = "stream::events"
DEFAULT_URL = "redis://localhost:6379"
CONFIG_KEYS = frozenset({"redis_url", "probe_interval_ms"})
MAX_UPDATE_RETRIES = 100

_LUA_RETENTION = r"""
local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function json_string(text)
  return '"' .. string.gsub(text, '[%z\1-\31"\\]', function(c)
    return escapes[c] or string.format('\\u%04x', string.byte(c))
  end) .. '"'
end

local function policy_of(policies, stream, group)
  local policy = redis.call('HGET', policies, stream .. '\n' .. group)
    or redis.call('HGET', policies, stream)
  if policy then return cjson.decode(policy) end
  return nil
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Delete the items `policy` no longer allows from the hash and the index, publishing a
-- delete frame for each; returns {id, old value, ...}.
local function evict(hash, index, policy, now, head, channel)
  local victims = {}
  if policy.ttl then
    victims = redis.call('ZRANGEBYSCORE', index, '-inf', now - policy.ttl * 1000000)
  end
  if policy.max_items then
    local over = redis.call('ZCARD', index) - #victims - policy.max_items
    if over > 0 then
      for _, id in ipairs(redis.call('ZRANGE', index, #victims, #victims + over - 1)) do
        table.insert(victims, id)
      end
    end
  end
  local evicted = {}
  for _, id in ipairs(victims) do
    redis.call('ZREM', index, id)
    local old = redis.call('HGET', hash, id)
    if old then
      redis.call('HDEL', hash, id)
      redis.call('PUBLISH', channel,
        head .. json_string(id) .. ',"event":{"type":"delete","data":' .. old .. '}}')
      table.insert(evicted, id)
      table.insert(evicted, old)
    end
  end
  return evicted
end

-- Record that `ids` were written now (in order) and evict; KEYS are hash, index, indexed,
-- policies; `head` is a delete frame up to its "id":.
local function written(ids, stream, group, head, channel)
  local policy = policy_of(KEYS[4], stream, group)
  if not policy then return {} end
  local now = now_us()
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) >= now then now = tonumber(last[2]) + 1 end
  for first = 1, #ids, 500 do
    local batch = {}
    for i = first, math.min(first + 499, #ids) do
      table.insert(batch, now + i - 1)
      table.insert(batch, ids[i])
    end
    redis.call('ZADD', KEYS[2], unpack(batch))
  end
  redis.call('SADD', KEYS[3], stream .. '\n' .. group)
  return evict(KEYS[1], KEYS[2], policy, now + #ids - 1, head, channel)
end
"""

_SET = (
    _LUA_RETENTION
    + r"""
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local kind = 'create'
if old then kind = 'update' end
redis.call('PUBLISH', ARGV[5], ARGV[3] .. kind .. ARGV[4] .. ARGV[2] .. '}}')
return {old or false, written({ARGV[1]}, ARGV[6], ARGV[7], ARGV[8], ARGV[5])}
"""
)

_TOUCH = (
    _LUA_RETENTION
    + r"""
return written({ARGV[1]}, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""
)

_DELETE = r"""
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('PUBLISH', ARGV[4], ARGV[2] .. 'delete' .. ARGV[3] .. old .. '}}')
end
return old
"""

_SET_MANY = (
    _LUA_RETENTION
    + r"""
-- ARGV: channel, stream, group, head (up to "id":), then (id, id as JSON, value) per row.
-- Returns {changed rows (n for an update, -n for a create, 1-based), evicted {id, old, ...}}.
local changed, ids = {}, {}
for row = 1, (#ARGV - 4) / 3 do
  local at = 2 + row * 3
  local id, value = ARGV[at], ARGV[at + 2]
  local old = redis.call('HGET', KEYS[1], id)
  ids[row] = id
  if old ~= value then
    redis.call('HSET', KEYS[1], id, value)
    local kind = 'update'
    if old then table.insert(changed, row) else kind = 'create'; table.insert(changed, -row) end
    redis.call('PUBLISH', ARGV[1],
      ARGV[4] .. ARGV[at + 1] .. ',"event":{"type":"' .. kind .. '","data":' .. value .. '}}')
  end
end
return {changed, written(ids, ARGV[2], ARGV[3], ARGV[4], ARGV[1])}
"""
)

_DELETE_MANY = r"""
-- ARGV: channel, head (up to "id":), then (id, id as JSON) per item; returns {id, old, ...}
local deleted = {}
for at = 3, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[at])
  if old then
    redis.call('HDEL', KEYS[1], ARGV[at])
    redis.call('ZREM', KEYS[2], ARGV[at])
    redis.call('PUBLISH', ARGV[1],
      ARGV[2] .. ARGV[at + 1] .. ',"event":{"type":"delete","data":' .. old .. '}}')
    table.insert(deleted, ARGV[at])
    table.insert(deleted, old)
  end
end
return deleted
"""

_RETAIN = (
    _LUA_RETENTION
    + r"""
-- Apply the group's policy now: index the items not indexed yet (as written now), then
-- evict. ARGV: stream, group, head (up to "id":), channel. Returns {id, old, ...}.
local policy = policy_of(KEYS[4], ARGV[1], ARGV[2])
if not policy then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[1] .. '\n' .. ARGV[2])
  return {}
end
local now = now_us()
local fields = redis.call('HKEYS', KEYS[1])
for first = 1, #fields, 500 do
  local batch = {'NX'}
  for i = first, math.min(first + 499, #fields) do
    table.insert(batch, now)
    table.insert(batch, fields[i])
  end
  redis.call('ZADD', KEYS[2], unpack(batch))
end
if #fields > 0 then redis.call('SADD', KEYS[3], ARGV[1] .. '\n' .. ARGV[2]) end
return evict(KEYS[1], KEYS[2], policy, now, ARGV[3], ARGV[4])
"""
)

_EXPIRE = (
    _LUA_RETENTION
    + r"""
-- Evict what the group's policy no longer allows (no write needed). ARGV as _RETAIN.
local policy = policy_of(KEYS[4], ARGV[1], ARGV[2])
if not policy or redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1] .. '\n' .. ARGV[2])
  return {}
end
return evict(KEYS[1], KEYS[2], policy, now_us(), ARGV[3], ARGV[4])
"""
)

BULK_ROWS = 2000
"""Rows per bulk-write script: Redis runs one at a time, so others' commands wait this long."""
POLICIES = "iii-live:retention"
INDEXED = "iii-live:recency"


_FENCE = b"fence:"
"""Prefix of the markers ``read_fenced`` publishes on the engine's own channel."""


class RedisUnavailable(ConnectionError):
    """Redis could not be reached; the operation did not happen."""


COLON_STREAM_PREFIX = "iii-live:stream:"
_ESCAPED = re.compile("%(25|3A)")


def group_key(stream_name: str, group_id: str) -> str:
    """The hash of a group: iii's key, unless the stream name holds ``:`` (see above)."""
    if ":" not in stream_name:
        return f"stream:{stream_name}:{group_id}"
    return f"{COLON_STREAM_PREFIX}{stream_name.replace('%', '%25').replace(':', '%3A')}:{group_id}"


def _parse_group_key(key: str) -> tuple[str, str] | None:
    """``(stream_name, group_id)`` of a key ``group_key`` makes, else ``None``."""
    if key.startswith(COLON_STREAM_PREFIX):
        escaped, _, group_id = key[len(COLON_STREAM_PREFIX) :].partition(":")
        stream_name = _ESCAPED.sub(lambda m: "%" if m[1] == "25" else ":", escaped)
    else:
        stream_name, _, group_id = key.partition(":")[2].partition(":")
    if stream_name and group_id and group_key(stream_name, group_id) == key:
        return stream_name, group_id
    return None


def recency_key(stream_name: str, group_id: str) -> str:
    """The sorted set of a retained group's item ids by last write time."""
    return "iii-live:recency:" + group_key(stream_name, group_id)


def _delete_head(timestamp: int, stream_name: str, group_id: str) -> bytes:
    """A wrapper frame up to its ``"id":``, for the frames a script completes."""
    dumps = codec.dumps
    return b'{"type":"stream","timestamp":%d,"streamName":%b,"groupId":%b,"id":' % (
        timestamp,
        dumps(stream_name),
        dumps(group_id),
    )


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class RedisAdapter:
    name = "redis"
    remote = True

    def __init__(self, redis_url: str = DEFAULT_URL, probe_interval_ms: int = 1000) -> None:
        self.redis_url = redis_url
        self.probe_interval = max(probe_interval_ms, 50) / 1000
        self._client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=5, socket_timeout=5, health_check_interval=0
        )
        self._set = self._client.register_script(_SET)
        self._touch = self._client.register_script(_TOUCH)
        self._delete = self._client.register_script(_DELETE)
        self._set_many = self._client.register_script(_SET_MANY)
        self._delete_many = self._client.register_script(_DELETE_MANY)
        self._retain = self._client.register_script(_RETAIN)
        self._expire = self._client.register_script(_EXPIRE)
        self._evicted: builtins.list[Event] = []
        self._sink: EventSink | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._probe_channel = f"iii-live:probe:{uuid.uuid4()}"
        self.subscribed = threading.Event()
        self.last_error: str | None = None
        self.outages = 0
        self.resyncs = 0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RedisAdapter:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigError(f"unknown redis adapter key(s): {', '.join(sorted(unknown))}")
        url = config.get("redis_url") or DEFAULT_URL
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"redis_url must be a redis:// URL, not {url!r}")
        return cls(url, int(config.get("probe_interval_ms") or 1000))

    def __repr__(self) -> str:
        return f"RedisAdapter({self.redis_url!r})"

    # -- lifecycle -------------------------------------------------------------------

    def open(self, sink: EventSink) -> None:
        self._sink = sink
        try:
            self._client.ping()
        except RedisError as exc:
            self.last_error = str(exc)
            log.warning("Redis at %s is not reachable yet (%s); writes fail until it is", self.redis_url, exc)
        self._stop.clear()
        self._listener = threading.Thread(target=self._listen, name="iii-live-redis-pubsub", daemon=True)
        self._listener.start()

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
            self._listener = None
        self._client.close()

    def status(self) -> dict[str, Any]:
        try:
            self._client.ping()
            connected = True
        except RedisError as exc:
            connected = False
            self.last_error = str(exc)
        return {
            "adapter": "redis",
            "redis_url": self.redis_url,
            "healthy": connected and self.subscribed.is_set(),
            "connected": connected,
            "subscribed": self.subscribed.is_set(),
            "last_error": self.last_error,
            "outages": self.outages,
            "resyncs": self.resyncs,
        }

    # -- storage ---------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.last_error = str(exc)
            raise RedisUnavailable(f"Redis at {self.redis_url} is unavailable ({exc})") from None

    def set(self, draft: EventDraft, value: Any, value_json: bytes) -> tuple[Any, Event]:
        head, middle = draft.frame_parts()
        stream_name, group_id = draft.stream_name, draft.group_id
        old, evicted = self._run(
            self._set,
            keys=self._keys(stream_name, group_id),
            args=[
                draft.item_id,
                value_json,
                head,
                middle,
                CHANNEL,
                stream_name,
                group_id,
                _delete_head(draft.timestamp, stream_name, group_id),
            ],
        )
        self._took(evicted, stream_name, group_id, draft.timestamp)
        return (MISSING if old is None else codec.loads(old)), draft.event(
            CREATE if old is None else UPDATE, value, value_json
        )

    def _keys(self, stream_name: str, group_id: str) -> builtins.list[str]:
        """A write script's keys: the group's hash, its recency index, the index list, the policies."""
        return [group_key(stream_name, group_id), recency_key(stream_name, group_id), INDEXED, POLICIES]

    def _took(self, evicted: builtins.list[bytes], stream_name: str, group_id: str, timestamp: int) -> None:
        """Keep the delete events a script published for evictions (``[id, old, ...]``)."""
        if evicted:
            self._evicted = self._evicted + _deletes(evicted, stream_name, group_id, timestamp)

    def get(self, stream_name: str, group_id: str, item_id: str) -> Any:
        stored = self._run(self._client.hget, group_key(stream_name, group_id), item_id)
        return MISSING if stored is None else codec.loads(stored)

    def delete(self, draft: EventDraft) -> tuple[Any, Event | None]:
        head, middle = draft.frame_parts()
        keys = self._keys(draft.stream_name, draft.group_id)[:2]
        old = self._run(self._delete, keys=keys, args=[draft.item_id, head, middle, CHANNEL])
        if old is None:
            return MISSING, None
        value = codec.loads(old)
        return value, draft.event(DELETE, value, old)

    def list(self, stream_name: str, group_id: str) -> builtins.list[Any]:
        values = self._run(self._client.hvals, group_key(stream_name, group_id))
        try:
            return codec.loads(b"[" + b",".join(values) + b"]")
        except codec.JSONDecodeError:
            raise ValueError(f"a value in {group_key(stream_name, group_id)} is not valid JSON") from None

    def items(self, stream_name: str, group_id: str) -> dict[str, Any]:
        stored = self._run(self._client.hgetall, group_key(stream_name, group_id))
        return {item_id.decode(): codec.loads(value) for item_id, value in stored.items()}

    def count(self, stream_name: str, group_id: str) -> int:
        return int(self._run(self._client.hlen, group_key(stream_name, group_id)))

    def read_fenced(
        self, stream_name: str, group_id: str, item_id: str | None, keyed: bool, token: str
    ) -> Any:
        """Read a snapshot and publish ``token`` on this engine's probe channel in one transaction."""
        key = group_key(stream_name, group_id)

        def transaction() -> Any:
            with self._client.pipeline(transaction=True) as pipe:
                if item_id is not None:
                    pipe.hget(key, item_id)
                else:
                    pipe.hgetall(key)
                pipe.publish(self._probe_channel, _FENCE + token.encode())
                return pipe.execute()[0]

        stored = self._run(transaction)
        if item_id is not None:
            return None if stored is None else codec.loads(stored)
        if keyed:
            return {field.decode(): codec.loads(value) for field, value in stored.items()}
        return codec.loads(b"[" + b",".join(stored.values()) + b"]")

    def list_groups(self, stream_name: str) -> builtins.list[str]:
        prefix = group_key(stream_name, "")
        keys = self._run(list, self._client.scan_iter(match=_glob_escape(prefix) + "*", count=1000))
        return [key.decode()[len(prefix) :] for key in keys]

    def list_all(self) -> dict[str, builtins.list[str]]:
        streams: dict[str, builtins.list[str]] = {}
        for pattern in ("stream:*", COLON_STREAM_PREFIX + "*"):
            for key in self._run(list, self._client.scan_iter(match=pattern, count=1000)):
                parsed = _parse_group_key(key.decode())
                if parsed is not None:
                    streams.setdefault(parsed[0], []).append(parsed[1])
        return streams

    def update(
        self, draft: EventDraft, ops: builtins.list[UpdateOp], check: CheckValue | None = None
    ) -> tuple[Any, Any, builtins.list[dict[str, Any]], Event]:
        """Read, apply the ops, write and publish in one optimistic transaction."""
        key = group_key(draft.stream_name, draft.group_id)
        return self._run(self._update, key, draft, ops, check)

    def _update(
        self, key: str, draft: EventDraft, ops: builtins.list[UpdateOp], check: CheckValue | None
    ) -> tuple[Any, Any, builtins.list[dict[str, Any]], Event]:
        stream_name, group_id = draft.stream_name, draft.group_id
        head = _delete_head(draft.timestamp, stream_name, group_id)
        touch_args: builtins.list[Any] = [draft.item_id, stream_name, group_id, head, CHANNEL]
        with self._client.pipeline() as pipe:
            for _ in range(MAX_UPDATE_RETRIES):
                try:
                    pipe.watch(key)
                    stored: bytes | None = pipe.hget(key, draft.item_id)  # type: ignore[assignment]
                    old, new_value, new_json, errors = updated_value(stored, ops, check)
                    event = draft.event(CREATE if stored is None else UPDATE, new_value, new_json)
                    pipe.multi()
                    pipe.hset(key, draft.item_id, new_json)
                    pipe.publish(CHANNEL, event.frame)
                    self._touch(keys=self._keys(stream_name, group_id), args=touch_args, client=pipe)
                    evicted = pipe.execute()[-1]
                    self._took(evicted, stream_name, group_id, draft.timestamp)
                    return old, new_value, errors, event
                except WatchError:
                    continue
        raise RuntimeError(f"{key} changed under {MAX_UPDATE_RETRIES} attempts to update it")

    def emit(self, event: Event) -> None:
        self._run(self._client.publish, CHANNEL, event.frame)

    # -- many rows at once -------------------------------------------------------------

    def set_many(
        self,
        stream_name: str,
        group_id: str,
        timestamp: int,
        item_ids: Sequence[str],
        values_json: Sequence[bytes],
        *,
        delete_missing: bool = False,
        events: bool = True,
    ) -> BulkResult:
        """Scripts of ``BULK_ROWS`` rows, each writing and publishing its changed rows
        atomically (other clients' commands may run between two of them)."""
        keys = self._keys(stream_name, group_id)
        head = _delete_head(timestamp, stream_name, group_id)
        ids_json = codec.json_strings(list(item_ids)) or [codec.dumps(item_id) for item_id in item_ids]
        existing = set(self._run(self._client.hkeys, keys[0])) if delete_missing else set()
        created = updated = 0
        published: builtins.list[Event] = []
        for first in range(0, len(item_ids), BULK_ROWS):
            rows = range(first, min(first + BULK_ROWS, len(item_ids)))
            args: builtins.list[Any] = [CHANNEL, stream_name, group_id, head]
            for row in rows:
                args += (item_ids[row], ids_json[row], values_json[row])
            changed, evicted = self._run(self._set_many, keys=keys, args=args)
            for position in changed:
                row = first + abs(position) - 1
                created += position < 0
                updated += position > 0
                if events:
                    kind = CREATE if position < 0 else UPDATE
                    value_json = values_json[row]
                    published.append(
                        Event(
                            stream_name,
                            group_id,
                            item_ids[row],
                            timestamp,
                            kind,
                            codec.loads(value_json),
                            data_json=value_json,
                        )
                    )
            published += _deletes(evicted, stream_name, group_id, timestamp)
        deleted = 0
        if delete_missing:
            missing = [
                item_id for item_id in (key.decode() for key in existing) if item_id not in set(item_ids)
            ]
            for first in range(0, len(missing), BULK_ROWS):
                args = [CHANNEL, head]
                for item_id in missing[first : first + BULK_ROWS]:
                    args += (item_id, codec.dumps(item_id))
                removed = self._run(self._delete_many, keys=keys[:2], args=args)
                deleted += len(removed) // 2
                published += _deletes(removed, stream_name, group_id, timestamp)
        unchanged = len(item_ids) - created - updated
        return BulkResult(created, updated, unchanged, deleted, published if events else [])

    # -- retention -------------------------------------------------------------------

    def retain(
        self, stream_name: str, group_id: str | None, policy: Retention | None, stamp: Stamp
    ) -> builtins.list[Event]:
        """Store the policy in Redis (for every engine) and apply it to the groups it covers."""
        field = stream_name if group_id is None else f"{stream_name}\n{group_id}"
        if policy is None:
            self._run(self._client.hdel, POLICIES, field)
        else:
            self._run(self._client.hset, POLICIES, field, codec.dumps(policy.to_dict()))
        groups = [group_id] if group_id is not None else self.list_groups(stream_name)
        evicted: builtins.list[Event] = []
        for gid in groups:
            timestamp = stamp(stream_name, gid)
            args = [stream_name, gid, _delete_head(timestamp, stream_name, gid), CHANNEL]
            removed = self._run(self._retain, keys=self._keys(stream_name, gid), args=args)
            evicted += _deletes(removed, stream_name, gid, timestamp)
        return evicted

    def policies(self) -> dict[tuple[str, str | None], Retention]:
        policies: dict[tuple[str, str | None], Retention] = {}
        for field, value in self._run(self._client.hgetall, POLICIES).items():
            stream_name, _, group_id = field.decode().partition("\n")
            spec = codec.loads(value)
            policies[(stream_name, group_id or None)] = Retention(spec.get("max_items"), spec.get("ttl"))
        return policies

    def expire(self, stamp: Stamp) -> builtins.list[Event]:
        """Evict expired items of every indexed group whose policy has a ``ttl``."""
        with_ttl = {key for key, policy in self.policies().items() if policy.ttl is not None}
        if not with_ttl:
            return []
        evicted: builtins.list[Event] = []
        for member in self._run(self._client.smembers, INDEXED):
            stream_name, _, group_id = member.decode().partition("\n")
            if (stream_name, group_id) not in with_ttl and (stream_name, None) not in with_ttl:
                continue
            timestamp = stamp(stream_name, group_id)
            args = [stream_name, group_id, _delete_head(timestamp, stream_name, group_id), CHANNEL]
            removed = self._run(self._expire, keys=self._keys(stream_name, group_id), args=args)
            evicted += _deletes(removed, stream_name, group_id, timestamp)
        return evicted

    def evicted(self) -> builtins.list[Event]:
        """The delete events retention published during the last write (taken once)."""
        evicted = self._evicted
        if evicted:
            self._evicted = []
        return evicted

    # -- pub/sub ---------------------------------------------------------------------

    def _listen(self) -> None:
        """Keep a subscription alive and feed the hub; resync after any gap."""
        attempt = 0
        gap = False
        down_since: float | None = None
        while not self._stop.is_set():
            pubsub = _WatchedPubSub(self._client.connection_pool)
            try:
                pubsub.subscribe(CHANNEL, self._probe_channel)
                self._pump(pubsub, gap, down_since)
            except (RedisError, OSError, _ProbeLost) as exc:
                if self._stop.is_set():
                    break
                if self.subscribed.is_set() or down_since is None:
                    self.outages += 1
                    down_since = time.monotonic()
                    log.error("Redis pub/sub at %s lost (%s); reconnecting", self.redis_url, exc)
                self.subscribed.clear()
                self.last_error = str(exc)
                gap = True
                attempt += 1
                self._stop.wait(min(0.05 * 2**attempt, 1.0))
            else:
                attempt = 0
            finally:
                self.subscribed.clear()
                try:
                    pubsub.close()
                except RedisError:
                    pass

    def _pump(self, pubsub: _WatchedPubSub, gap: bool, down_since: float | None) -> None:
        confirmed = 0
        next_probe = time.monotonic()
        probe_deadline: float | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if confirmed == 2 and now >= next_probe:
                self._client.publish(self._probe_channel, b"probe")
                next_probe = now + self.probe_interval
                if probe_deadline is None:
                    probe_deadline = now + max(5 * self.probe_interval, 2.0)
            if probe_deadline is not None and now > probe_deadline:
                raise _ProbeLost("the subscription stopped delivering (probe not received)")
            message = pubsub.get_message(timeout=min(self.probe_interval, 0.5))
            if pubsub.reconnected:
                raise _ProbeLost("the pub/sub connection was silently re-established")
            if message is None:
                continue
            kind = message["type"]
            if kind == b"subscribe" or kind == "subscribe":
                confirmed += 1
                if confirmed == 2:
                    self._subscribed(gap, down_since)
            elif message["channel"] == self._probe_channel.encode():
                data = message["data"]
                if data.startswith(_FENCE):
                    self._fence(data[len(_FENCE) :].decode())
                else:
                    probe_deadline = None
            elif kind in (b"message", "message"):
                self._deliver(message["data"])

    def _subscribed(self, gap: bool, down_since: float | None) -> None:
        self.subscribed.set()
        self.last_error = None
        if not gap:
            log.info("subscribed to %s on %s", CHANNEL, self.redis_url)
            return
        resynced = self._sink.resync() if self._sink is not None else 0
        self.resyncs += 1
        outage = time.monotonic() - down_since if down_since is not None else 0.0
        log.warning(
            "Redis pub/sub at %s restored after %.1f s; resynced %d subscriber(s) from storage",
            self.redis_url,
            outage,
            resynced,
        )

    def _deliver(self, raw: bytes) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            event = stream_wire.decode(raw)
        except ValueError:
            log.error("dropping a message on %s that is not a stream event: %.200r", CHANNEL, raw)
            return
        sink.publish(event)
        sink.drain()

    def _fence(self, token: str) -> None:
        if self._sink is not None:
            self._sink.fence(token)


def _deletes(
    evicted: builtins.list[bytes], stream_name: str, group_id: str, timestamp: int
) -> builtins.list[Event]:
    """The delete events of a script's ``[id, old value, ...]``, as the script published them."""
    events = []
    for item_id, old in zip(evicted[::2], evicted[1::2], strict=True):
        events.append(
            Event(stream_name, group_id, item_id.decode(), timestamp, DELETE, codec.loads(old), data_json=old)
        )
    return events


class _ProbeLost(Exception):
    pass


class _WatchedPubSub(redis.client.PubSub):
    """A PubSub that notices when redis-py re-establishes its connection by itself."""

    def __init__(self, connection_pool: Any) -> None:
        super().__init__(connection_pool)
        self.connects = 0

    @property
    def reconnected(self) -> bool:
        return self.connects > 1

    def on_connect(self, connection: Any) -> None:
        self.connects += 1
        super().on_connect(connection)
