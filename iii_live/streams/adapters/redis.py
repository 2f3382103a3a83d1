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
from .base import BulkResult, CheckValue, EventSink, FencedRead, Following

log = logging.getLogger("iii_live.redis")

CHANNEL = "stream::events"
DEFAULT_URL = "redis://localhost:6379"
CONFIG_KEYS = frozenset({"redis_url", "probe_interval_ms"})
MAX_UPDATE_RETRIES = 100

_LUA_ANNOUNCE = r"""
-- Publish a group's event. While resuming clients follow the group (the key
-- iii-live:follow:<hash> exists), number it in the group's history first: the next seq
-- of iii-live:history:<hash> (which holds seq, epoch and the window), the frame kept at the
-- end of the list iii-live:log:<hash> (as "<seconds>|<frame>"), and the number published on
-- NUMBERS just before the frame, so every iii-live engine can put it on the frame.
local function announce(channel, frame, hash)
  local follow = 'iii-live:follow:' .. hash
  if redis.call('EXISTS', follow) == 1 then
    local history = 'iii-live:history:' .. hash
    local log = 'iii-live:log:' .. hash
    local seq = redis.call('HINCRBY', history, 'seq', 1)
    local epoch = redis.call('HGET', history, 'epoch')
    if not epoch then
      local t = redis.call('TIME')
      epoch = t[1] .. '.' .. t[2]
      redis.call('HSET', history, 'epoch', epoch)
    end
    redis.call('RPUSH', log, redis.call('TIME')[1] .. '|' .. frame)
    local window = tonumber(redis.call('HGET', history, 'window') or '10000')
    redis.call('LTRIM', log, -window, -1)
    local ttl = redis.call('PTTL', follow)
    redis.call('PEXPIRE', history, ttl)
    redis.call('PEXPIRE', log, ttl)
    redis.call('PUBLISH', 'iii-live:numbers', seq .. ' ' .. epoch)
  end
  redis.call('PUBLISH', channel, frame)
end
"""

_LUA_RETENTION = (
    _LUA_ANNOUNCE
    + r"""
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
      announce(channel, head .. json_string(id) .. ',"event":{"type":"delete","data":' .. old .. '}}', hash)
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
)

_SET = (
    _LUA_RETENTION
    + r"""
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local kind = 'create'
if old then kind = 'update' end
announce(ARGV[5], ARGV[3] .. kind .. ARGV[4] .. ARGV[2] .. '}}', KEYS[1])
return {old or false, written({ARGV[1]}, ARGV[6], ARGV[7], ARGV[8], ARGV[5])}
"""
)

_TOUCH = (
    _LUA_RETENTION
    + r"""
return written({ARGV[1]}, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""
)

_DELETE = (
    _LUA_ANNOUNCE
    + r"""
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  announce(ARGV[4], ARGV[2] .. 'delete' .. ARGV[3] .. old .. '}}', KEYS[1])
end
return old
"""
)

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
    local frame = ARGV[4] .. ARGV[at + 1] .. ',"event":{"type":"' .. kind .. '","data":' .. value .. '}}'
    announce(ARGV[1], frame, KEYS[1])
  end
end
return {changed, written(ids, ARGV[2], ARGV[3], ARGV[4], ARGV[1])}
"""
)

_DELETE_MANY = (
    _LUA_ANNOUNCE
    + r"""
-- ARGV: channel, head (up to "id":), then (id, id as JSON) per item; returns {id, old, ...}
local deleted = {}
for at = 3, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[at])
  if old then
    redis.call('HDEL', KEYS[1], ARGV[at])
    redis.call('ZREM', KEYS[2], ARGV[at])
    announce(ARGV[1], ARGV[2] .. ARGV[at + 1] .. ',"event":{"type":"delete","data":' .. old .. '}}', KEYS[1])
    table.insert(deleted, ARGV[at])
    table.insert(deleted, old)
  end
end
return deleted
"""
)

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

_PUBLISH = (
    _LUA_ANNOUNCE
    + r"""
-- An event without a write of this script's (update's transaction, stream::send).
announce(ARGV[1], ARGV[2], KEYS[1])
"""
)

_FOLLOW = r"""
-- Resuming clients follow the group: keep its history for ARGV[1] ms, at most ARGV[2] events.
local hash = KEYS[1]
redis.call('SET', 'iii-live:follow:' .. hash, '1', 'PX', ARGV[1])
local history = 'iii-live:history:' .. hash
if redis.call('HEXISTS', history, 'epoch') == 0 then
  local t = redis.call('TIME')
  redis.call('HSET', history, 'epoch', t[1] .. '.' .. t[2], 'seq', 0)
end
redis.call('HSET', history, 'window', ARGV[2])
redis.call('PEXPIRE', history, ARGV[1])
redis.call('PEXPIRE', 'iii-live:log:' .. hash, ARGV[1])
"""

_READ_FOLLOWED = (
    _FOLLOW
    + r"""
-- Then read what a joining subscriber needs, and publish the fence on this engine's channel
-- (ARGV[3], ARGV[4]) in the same step. ARGV[5]: the item ('' for the group); ARGV[6],
-- ARGV[7]: the seq and epoch it resumes from ('' when it does not); ARGV[8]: the oldest
-- second an event it gets may be from. Returns {seq, epoch, 'missed', entries...} when the
-- history holds every event after that seq, else {seq, epoch, 'snapshot', value(s)}.
local seq = tonumber(redis.call('HGET', history, 'seq'))
local epoch = redis.call('HGET', history, 'epoch')
redis.call('PUBLISH', ARGV[3], ARGV[4])
if ARGV[6] ~= '' and ARGV[7] == epoch and tonumber(ARGV[6]) <= seq and tonumber(ARGV[6]) >= 0 then
  local since = tonumber(ARGV[6])
  local log = 'iii-live:log:' .. hash
  local kept = redis.call('LLEN', log)
  local first = seq - kept + 1
  if since == seq then return {seq, epoch, 'missed'} end
  if since + 1 >= first then
    local entries = redis.call('LRANGE', log, since + 1 - first, -1)
    local oldest = tonumber(string.match(entries[1], '^(%d+)|'))
    if oldest >= tonumber(ARGV[8]) then
      local reply = {seq, epoch, 'missed'}
      for _, entry in ipairs(entries) do table.insert(reply, entry) end
      return reply
    end
  end
end
if ARGV[5] ~= '' then
  return {seq, epoch, 'snapshot', redis.call('HGET', hash, ARGV[5]) or false}
end
local reply = {seq, epoch, 'snapshot'}
for _, part in ipairs(redis.call('HGETALL', hash)) do table.insert(reply, part) end
return reply
"""
)

_LOST = r"""
-- Events of the group went out without a number (an iii engine wrote them): its history is
-- no longer whole, so start it again under a new epoch.
local history = 'iii-live:history:' .. KEYS[1]
if redis.call('EXISTS', history) == 1 then
  local t = redis.call('TIME')
  redis.call('HSET', history, 'epoch', t[1] .. '.' .. t[2] .. '.lost', 'seq', 0)
  redis.call('DEL', 'iii-live:log:' .. KEYS[1])
end
"""

NUMBERS = "iii-live:numbers"
"""Where scripts publish an event's ``seq epoch`` just before its frame (followed groups)."""

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
    numbers_events = True
    """Events of followed groups come numbered from Redis (one history for every engine)."""

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
        self._publish = self._client.register_script(_PUBLISH)
        self._follow = self._client.register_script(_FOLLOW)
        self._read_followed = self._client.register_script(_READ_FOLLOWED)
        self._lost = self._client.register_script(_LOST)
        self._numbers: tuple[int, str] | None = None
        """The seq and epoch published just before the next frame (a followed group's)."""
        self._evicted: builtins.list[Event] = []
        self._sink: EventSink | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._probe_channel = f"iii-live:probe:{uuid.uuid4()}"
        self._channels = (CHANNEL, NUMBERS, self._probe_channel)
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
        self,
        stream_name: str,
        group_id: str,
        item_id: str | None,
        keyed: bool,
        token: str,
        follow: Following | None = None,
        since: tuple[int, str] | None = None,
    ) -> FencedRead:
        """Read a snapshot and publish ``token`` on this engine's probe channel in one step.

        With ``follow``, the group's history is followed too (kept ``follow.ttl`` seconds,
        ``follow.window`` events), the read says where it stands, and, resuming ``since``,
        gives the events missed instead of a snapshot when the history holds them all.
        """
        key = group_key(stream_name, group_id)
        fence = _FENCE + token.encode()
        if follow is None:

            def transaction() -> Any:
                with self._client.pipeline(transaction=True) as pipe:
                    if item_id is not None:
                        pipe.hget(key, item_id)
                    else:
                        pipe.hgetall(key)
                    pipe.publish(self._probe_channel, fence)
                    return pipe.execute()[0]

            return FencedRead(self._snapshot(self._run(transaction), item_id, keyed))
        seq, epoch = since if since is not None else ("", "")
        args = [
            int(follow.ttl * 1000),
            follow.window,
            self._probe_channel,
            fence,
            item_id or "",
            seq,
            epoch,
            int(time.time() - follow.ttl),
        ]
        reply = self._run(self._read_followed, keys=[key], args=args)
        position = int(reply[0]), reply[1].decode()
        if reply[2] == b"missed":
            frames = [entry.split(b"|", 1)[1] for entry in reply[3:]]
            return FencedRead(None, position, missed=frames)
        if item_id is not None:
            return FencedRead(self._snapshot(reply[3] or None, item_id, keyed), position)
        fields = reply[3:]
        return FencedRead(
            self._snapshot(dict(zip(fields[::2], fields[1::2], strict=True)), item_id, keyed), position
        )

    @staticmethod
    def _snapshot(stored: Any, item_id: str | None, keyed: bool) -> Any:
        """What a sync carries, from an ``HGET`` (an item) or an ``HGETALL`` (a group)."""
        if item_id is not None:
            return None if stored is None else codec.loads(stored)
        if keyed:
            return {field.decode(): codec.loads(value) for field, value in stored.items()}
        return codec.loads(b"[" + b",".join(stored.values()) + b"]")

    def follow(self, groups: builtins.list[tuple[str, str]], follow: Following) -> None:
        """Keep following these groups' histories (resuming clients here still follow them)."""
        with self._client.pipeline(transaction=False) as pipe:
            for stream_name, group_id in groups:
                self._follow(
                    keys=[group_key(stream_name, group_id)],
                    args=[int(follow.ttl * 1000), follow.window],
                    client=pipe,
                )
            self._run(pipe.execute)

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
                    self._publish(keys=[key], args=[CHANNEL, event.frame], client=pipe)
                    self._touch(keys=self._keys(stream_name, group_id), args=touch_args, client=pipe)
                    evicted = pipe.execute()[-1]
                    self._took(evicted, stream_name, group_id, draft.timestamp)
                    return old, new_value, errors, event
                except WatchError:
                    continue
        raise RuntimeError(f"{key} changed under {MAX_UPDATE_RETRIES} attempts to update it")

    def emit(self, event: Event) -> None:
        key = group_key(event.stream_name, event.group_id)
        self._run(self._publish, keys=[key], args=[CHANNEL, event.frame])

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
                pubsub.subscribe(*self._channels)
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
        next_probe = next_follow = time.monotonic()
        probe_deadline: float | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if confirmed == len(self._channels) and now >= next_probe:
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
                if confirmed == len(self._channels):
                    self._subscribed(gap, down_since)
            elif message["channel"] == self._probe_channel.encode():
                data = message["data"]
                if data.startswith(_FENCE):
                    self._fence(data[len(_FENCE) :].decode())
                else:
                    probe_deadline = None
            elif message["channel"] == NUMBERS.encode():
                seq, _, epoch = message["data"].partition(b" ")
                self._numbers = int(seq), epoch.decode()
            elif kind in (b"message", "message"):
                self._deliver(message["data"])
            if self._sink is not None and now >= next_follow:
                next_follow = now + self._refresh_following()

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
        numbers, self._numbers = self._numbers, None
        try:
            event = stream_wire.decode(raw)
        except ValueError:
            log.error("dropping a message on %s that is not a stream event: %.200r", CHANNEL, raw)
            return
        if numbers is not None:
            event.seq, event.epoch = numbers
        elif sink.history.follows(event.stream_name, event.group_id):
            # written without a number (an iii engine): the shared history is no longer whole
            self._run(self._lost, keys=[group_key(event.stream_name, event.group_id)])
        sink.publish(event)
        sink.drain()

    def _refresh_following(self) -> float:
        """Renew the groups this engine's resuming clients follow; seconds until the next time."""
        sink = self._sink
        assert sink is not None
        history = sink.history
        groups = history.followed()
        if groups:
            try:
                self.follow(groups, Following(history.ttl, history.window))
            except RedisUnavailable as exc:
                log.warning("renewing followed histories failed: %s", exc)
        return max(history.ttl / 3, 0.05)

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
