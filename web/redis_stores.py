"""Redis implementations of the issuer's short-lived state stores, used when `REDIS_URL` is set.

Key layout (`prefix` is `CARDSIM_REDIS_PREFIX`, default `cardsim:`); every key has a TTL:

- `{prefix}liveness:{application_id}:{session_key}`: hash `version`, `state` (JSON), an
  in-progress liveness session; TTL until the application expires.
- `{prefix}throttle:{user:<name> | ip:<address>}`: JSON string, a failed-login counter; TTL
  throttle window + lockout.
- `{prefix}staff_session:{sha256 of the cookie token}`: hash, a live console session; TTL until
  its absolute expiry.
- `{prefix}staff_sessions:{staff_user_id}`: set of token hashes (to end or count a staff
  member's sessions); TTL the longest of its sessions'.
- `{prefix}rate:{limit}:{window number}:{subject}`: integer, requests counted in one window
  of a rate limit (`issuer.rate_limits`); expires at the end of its window.

Atomicity: liveness states are replaced by a Lua compare-and-set on their version; throttle
counters by WATCH/MULTI (the policy is Python: `issuer.staff_throttle`); touching a staff
session only when it still exists is a Lua script, so a touch never revives an ended session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.retry import Retry

from issuer.ephemeral import JsonDict, LivenessSnapshot, StaffSessionRecord
from issuer.errors import Conflict
from issuer.staff_throttle import ThrottleState

# A request waits at most about this long for an unreachable or stuck Redis, then gets a 503.
SOCKET_TIMEOUT_S = 2.0

_CAS_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'version')
if not current then current = '0' end
if current ~= ARGV[1] then return -1 end
local new = tonumber(current) + 1
redis.call('HSET', KEYS[1], 'version', new, 'state', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return new
"""

_TOUCH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
return 1
"""

_INDEX_SCRIPT = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


def _ms(ttl: timedelta) -> int:
    return max(1, int(ttl.total_seconds() * 1000))


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def describe_redis_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


def connect(url: str) -> redis.Redis:
    """A client for `url` with short socket timeouts and one reconnect on a dropped link.

    Only connection errors are retried (a Redis restart leaves dead pooled connections);
    a timeout is not, so a stuck Redis costs one `SOCKET_TIMEOUT_S`, not several.
    """
    retry = Retry(ExponentialBackoff(cap=0.2, base=0.02), 1,
                  supported_errors=(redis.exceptions.ConnectionError,))
    return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S,
                                socket_connect_timeout=SOCKET_TIMEOUT_S, retry=retry)


class RedisLivenessStateStore:
    """In-progress liveness states, one hash per (application, session key)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._cas = client.register_script(_CAS_SCRIPT)

    def key(self, *, application_id: str, key: str) -> str:
        """The Redis key of a session's state."""
        return f"{self.prefix}liveness:{application_id}:{key}"

    def load(self, *, application_id: str, key: str) -> LivenessSnapshot | None:
        version, state = cast(list[Any], self.client.hmget(
            self.key(application_id=application_id, key=key), ["version", "state"]))
        if version is None or state is None:
            return None
        value = orjson.loads(state)
        if not isinstance(value, dict):
            return None
        return LivenessSnapshot(version=int(version), state=value)

    def save(self, *, application_id: str, key: str, state: JsonDict, expected_version: int,
             ttl: timedelta) -> int:
        new = int(cast(int, self._cas(
            keys=[self.key(application_id=application_id, key=key)],
            args=[str(expected_version), orjson.dumps(state), _ms(ttl)])))
        if new < 0:
            raise Conflict("another frame of this session was processed meanwhile; "
                           "send frames one at a time")
        return new

    def discard(self, *, application_id: str, key: str) -> None:
        self.client.delete(self.key(application_id=application_id, key=key))


def _encode_throttle(state: ThrottleState) -> bytes:
    return orjson.dumps({
        "failures": state.failures,
        "first_failure_at": state.first_failure_at.isoformat()
        if state.first_failure_at else None,
        "locked_until": state.locked_until.isoformat() if state.locked_until else None,
    })


def _decode_throttle(raw: object) -> ThrottleState:
    if raw is None:
        return ThrottleState()
    value = orjson.loads(cast(bytes, raw))
    first, locked = value.get("first_failure_at"), value.get("locked_until")
    return ThrottleState(
        failures=int(value.get("failures", 0)),
        first_failure_at=datetime.fromisoformat(first) if first else None,
        locked_until=datetime.fromisoformat(locked) if locked else None)


class RedisThrottleStore:
    """Failed-login counters, replaced atomically with WATCH/MULTI."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, key: str) -> str:
        """The Redis key of a counter."""
        return f"{self.prefix}throttle:{key}"

    def get(self, key: str) -> ThrottleState:
        return _decode_throttle(self.client.get(self.key(key)))

    def update(self, key: str, change: Callable[[ThrottleState], ThrottleState], *,
               ttl: timedelta) -> ThrottleState:
        name = self.key(key)

        def attempt(pipe: Pipeline) -> ThrottleState:
            # After WATCH the pipeline runs commands at once; MULTI starts the queued part.
            # A write by someone else in between makes EXEC fail and redis-py run this again.
            new = change(_decode_throttle(pipe.get(name)))
            pipe.multi()
            pipe.set(name, _encode_throttle(new), px=_ms(ttl))
            return new

        run = cast(Callable[[Pipeline], None], attempt)  # redis-py types the callable as -> None
        return cast(ThrottleState, self.client.transaction(run, name, value_from_callable=True))

    def clear(self, key: str) -> None:
        self.client.delete(self.key(key))


class RedisStaffSessionStore:
    """Live console sessions; ending one deletes it (the logout audit entry is in the DB)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._touch = client.register_script(_TOUCH_SCRIPT)
        self._index = client.register_script(_INDEX_SCRIPT)

    def key(self, token_hash: str) -> str:
        """The Redis key of a session."""
        return f"{self.prefix}staff_session:{token_hash}"

    def user_key(self, staff_user_id: int) -> str:
        """The Redis key of a staff member's set of session token hashes."""
        return f"{self.prefix}staff_sessions:{staff_user_id}"

    def add(self, record: StaffSessionRecord) -> None:
        ttl = _ms(record.expires_at - record.created_at)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(record.token_hash), mapping={
                "staff_user_id": record.staff_user_id,
                "created_at": record.created_at.isoformat(),
                "last_seen_at": record.last_seen_at.isoformat(),
                "expires_at": record.expires_at.isoformat(),
                "idle_timeout_seconds": record.idle_timeout_seconds,
                "client_ip": record.client_ip,
            })
            pipe.pexpire(self.key(record.token_hash), ttl)
            pipe.execute()
        self._index(keys=[self.user_key(record.staff_user_id)], args=[record.token_hash, ttl])

    def get(self, token_hash: str) -> StaffSessionRecord | None:
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.key(token_hash)))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return StaffSessionRecord(
            token_hash=token_hash, staff_user_id=int(fields["staff_user_id"]),
            created_at=datetime.fromisoformat(fields["created_at"]),
            last_seen_at=datetime.fromisoformat(fields["last_seen_at"]),
            expires_at=datetime.fromisoformat(fields["expires_at"]),
            idle_timeout_seconds=int(fields["idle_timeout_seconds"]),
            client_ip=fields.get("client_ip", ""))

    def touch(self, token_hash: str, *, now: datetime) -> None:
        self._touch(keys=[self.key(token_hash)], args=[now.isoformat()])

    def end(self, token_hash: str, *, now: datetime) -> bool:
        # The index entry is pruned lazily by count_active / end_all_for_user.
        return int(self.client.delete(self.key(token_hash))) == 1

    def _members(self, staff_user_id: int) -> list[str]:
        return [_text(m) for m in cast(set[bytes],
                                       self.client.smembers(self.user_key(staff_user_id)))]

    def end_all_for_user(self, staff_user_id: int, *, now: datetime) -> int:
        members = self._members(staff_user_id)
        if not members:
            return 0
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(*[self.key(m) for m in members])
            pipe.delete(self.user_key(staff_user_id))
            ended, _ = pipe.execute()
        return int(ended)

    def count_active(self, staff_user_id: int, *, now: datetime) -> int:
        members = self._members(staff_user_id)
        with self.client.pipeline(transaction=False) as pipe:
            for member in members:
                pipe.hget(self.key(member), "expires_at")
            expiries = pipe.execute()
        gone = [m for m, e in zip(members, expiries, strict=True) if e is None]
        if gone:
            self.client.srem(self.user_key(staff_user_id), *gone)
        return sum(1 for e in expiries if e is not None and datetime.fromisoformat(_text(e)) > now)


class RedisRateCounterStore:
    """Request rate counters: INCR and PEXPIREAT in one MULTI, so a counter never outlives
    its window."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, key: str) -> str:
        """The Redis key of a counter."""
        return f"{self.prefix}rate:{key}"

    def hit(self, key: str, *, expires_at: datetime, now: datetime) -> int:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(self.key(key))
            pipe.pexpireat(self.key(key), max(1, int(expires_at.timestamp() * 1000)))
            count, _ = pipe.execute()
        return int(count)


@dataclass(frozen=True)
class RedisStores:
    """The Redis stores of one app, on one client."""

    client: redis.Redis
    prefix: str
    liveness: RedisLivenessStateStore
    throttles: RedisThrottleStore
    staff_sessions: RedisStaffSessionStore
    rate_counters: RedisRateCounterStore

    @classmethod
    def open(cls, url: str, *, prefix: str) -> RedisStores:
        """Stores on a new client for `url` (no connection is made until first use)."""
        client = connect(url)
        return cls(client=client, prefix=prefix,
                   liveness=RedisLivenessStateStore(client, prefix),
                   throttles=RedisThrottleStore(client, prefix),
                   staff_sessions=RedisStaffSessionStore(client, prefix),
                   rate_counters=RedisRateCounterStore(client, prefix))
