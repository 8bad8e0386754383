"""The ephemeral store: short-lived values with TTLs, counters and atomic take-once.

Sessions, authorization codes, access tokens, OTP state and rate-limit counters
live here. Two back ends share one interface: Redis when `redis.url` is set,
otherwise a table in the SQL database, so the default needs no other server.

Expiry is checked against `clock.now()` on every read, so tests can move time
on both back ends; Redis' own TTL (and the SQL purge) only reclaims space.
"""

from __future__ import annotations

import json
import math
import random
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import clock
from .extensions import db


class StoreUnavailable(RuntimeError):
    """The ephemeral store cannot be reached."""


class EphemeralStore(Protocol):
    def put(self, key: str, value: dict, ttl: float) -> None:
        """Store value under key for ttl seconds, replacing what was there."""

    def add(self, key: str, value: dict, ttl: float) -> bool:
        """Store value only if key holds nothing live; True if stored."""

    def replace(self, key: str, value: dict, ttl: float) -> bool:
        """Store value only if key still holds something live; True if stored (never revives a deleted key)."""

    def get(self, key: str) -> dict | None:
        """The live value under key, or None."""

    def get_many(self, keys: list[str]) -> list[dict | None]:
        """Live values for several keys in one round trip."""

    def take(self, key: str) -> dict | None:
        """Atomically read and delete: at most one caller ever gets the value."""

    def delete(self, *keys: str) -> None:
        """Forget keys."""

    def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter whose window of ttl seconds starts at its first increment."""

    def counter(self, key: str) -> int:
        """The current value of a counter (0 when absent or expired), without changing it."""

    def index_add(self, index: str, member: str, ttl: float) -> None:
        """Add a member to a named set; each member expires on its own after ttl seconds."""

    def index_members(self, index: str) -> list[str]:
        """The live members of a named set."""

    def index_remove(self, index: str, *members: str) -> None:
        """Take members out of a named set."""

    def ping(self) -> None:
        """Raise StoreUnavailable if the back end cannot answer."""


def _pack(value: dict, ttl: float) -> tuple[str, float]:
    expires_at = clock.now() + ttl
    return json.dumps({"e": expires_at, "v": value}, separators=(",", ":")), expires_at


def _unpack(raw: bytes | str | None) -> dict | None:
    if raw is None:
        return None
    envelope = json.loads(raw)
    if envelope["e"] <= clock.now():
        return None
    return envelope["v"]


class RedisStore:
    """Ephemeral store on Redis (or Sentinel/Cluster behind a redis:// URL)."""

    def __init__(self, url: str, prefix: str = "idp:"):
        import redis

        self._redis_errors = (redis.exceptions.RedisError, OSError)
        self.client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
        )
        self.prefix = prefix
        self._add_script = self.client.register_script(self._ADD)
        self._replace_script = self.client.register_script(self._REPLACE)

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._redis_errors as error:
            raise StoreUnavailable(str(error)) from error

    def put(self, key: str, value: dict, ttl: float) -> None:
        raw, _ = _pack(value, ttl)
        self._call(self.client.set, self._k(key), raw, ex=max(1, math.ceil(ttl)))

    # Stores only if the key is absent or its value has expired by the application's clock,
    # which may run ahead of Redis' own TTL in tests: one atomic script decides.
    _ADD = """
    local current = redis.call('GET', KEYS[1])
    if current and cjson.decode(current)['e'] > tonumber(ARGV[3]) then return 0 end
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
    """

    def add(self, key: str, value: dict, ttl: float) -> bool:
        raw, _ = _pack(value, ttl)
        script = self._add_script
        return bool(self._call(script, keys=[self._k(key)], args=[raw, max(1, math.ceil(ttl)), repr(clock.now())]))

    _REPLACE = """
    local current = redis.call('GET', KEYS[1])
    if not current or cjson.decode(current)['e'] <= tonumber(ARGV[3]) then return 0 end
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
    """

    def replace(self, key: str, value: dict, ttl: float) -> bool:
        raw, _ = _pack(value, ttl)
        script = self._replace_script
        return bool(self._call(script, keys=[self._k(key)], args=[raw, max(1, math.ceil(ttl)), repr(clock.now())]))

    def get(self, key: str) -> dict | None:
        return _unpack(self._call(self.client.get, self._k(key)))

    def get_many(self, keys: list[str]) -> list[dict | None]:
        if not keys:
            return []
        return [_unpack(raw) for raw in self._call(self.client.mget, [self._k(k) for k in keys])]

    def take(self, key: str) -> dict | None:
        return _unpack(self._call(self.client.getdel, self._k(key)))

    def delete(self, *keys: str) -> None:
        if keys:
            self._call(self.client.delete, *[self._k(k) for k in keys])

    def incr(self, key: str, ttl: float) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(self._k(key))
        pipe.expire(self._k(key), max(1, math.ceil(ttl)), nx=True)
        count, _ = self._call(pipe.execute)
        return int(count)

    def counter(self, key: str) -> int:
        raw = self._call(self.client.get, self._k(key))
        return int(raw) if raw is not None else 0

    def index_add(self, index: str, member: str, ttl: float) -> None:
        # A sorted set scored by expiry time: expired members are skipped and trimmed.
        expires_at = clock.now() + ttl
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self._k(index), {member: expires_at})
        pipe.zremrangebyscore(self._k(index), "-inf", clock.now())
        pipe.expire(self._k(index), max(1, math.ceil(ttl)), gt=True)
        pipe.expire(self._k(index), max(1, math.ceil(ttl)), nx=True)
        self._call(pipe.execute)

    def index_members(self, index: str) -> list[str]:
        members = self._call(self.client.zrangebyscore, self._k(index), f"({clock.now()}", "+inf")
        return [m.decode() for m in members]

    def index_remove(self, index: str, *members: str) -> None:
        if members:
            self._call(self.client.zrem, self._k(index), *members)

    def ping(self) -> None:
        self._call(self.client.ping)


entries = sa.Table(
    "ephemeral_entries",
    db.metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False, default=""),
    sa.Column("counter", sa.Integer, nullable=False, default=0),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

members = sa.Table(
    "ephemeral_members",
    db.metadata,
    sa.Column("index_key", sa.String(255), primary_key=True),
    sa.Column("member", sa.String(255), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


class SqlStore:
    """Ephemeral store in the SQL database (the embedded default).

    Each call runs in its own short transaction on its own connection, so it
    never commits or rolls back the caller's unit of work. On SQLite, callers
    write to the store before or after their own write transaction, never
    inside it (SQLite has one writer at a time).
    """

    PURGE_ONE_IN = 200

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def _run(self, statement) -> tuple[int, list]:
        """Execute in a transaction of its own; (rowcount, returned rows)."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(statement)
                rows = result.all() if result.returns_rows else []
                return result.rowcount, rows
        except sa.exc.OperationalError as error:
            raise StoreUnavailable(str(error)) from error

    def _maybe_purge(self) -> None:
        # Expired rows are invisible to reads; deleting them now and then keeps the table small.
        if random.randrange(self.PURGE_ONE_IN) == 0:
            self.purge()

    def purge(self) -> int:
        """Delete expired rows; returns how many went."""
        now = clock.now()
        removed = self._run(sa.delete(entries).where(entries.c.expires_at <= now))[0]
        return removed + self._run(sa.delete(members).where(members.c.expires_at <= now))[0]

    def put(self, key: str, value: dict, ttl: float) -> None:
        raw, expires_at = _pack(value, ttl)
        stmt = self._insert(entries).values(key=key, value=raw, counter=0, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[entries.c.key],
            set_={"value": raw, "counter": 0, "expires_at": expires_at},
        )
        self._run(stmt)
        self._maybe_purge()

    def add(self, key: str, value: dict, ttl: float) -> bool:
        raw, expires_at = _pack(value, ttl)
        stmt = self._insert(entries).values(key=key, value=raw, counter=0, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[entries.c.key],
            set_={"value": raw, "counter": 0, "expires_at": expires_at},
            where=entries.c.expires_at <= clock.now(),
        ).returning(entries.c.key)
        # RETURNING, not rowcount: drivers disagree on rowcount for INSERT .. ON CONFLICT.
        return len(self._run(stmt)[1]) == 1

    def replace(self, key: str, value: dict, ttl: float) -> bool:
        raw, expires_at = _pack(value, ttl)
        stmt = (
            sa.update(entries)
            .where(entries.c.key == key, entries.c.expires_at > clock.now())
            .values(value=raw, counter=0, expires_at=expires_at)
        )
        return self._run(stmt)[0] == 1

    def get(self, key: str) -> dict | None:
        return self.get_many([key])[0]

    def get_many(self, keys: list[str]) -> list[dict | None]:
        if not keys:
            return []
        stmt = sa.select(entries.c.key, entries.c.value).where(
            entries.c.key.in_(keys), entries.c.expires_at > clock.now()
        )
        try:
            with self.engine.connect() as conn:
                found = dict(conn.execute(stmt).all())
        except sa.exc.OperationalError as error:
            raise StoreUnavailable(str(error)) from error
        return [_unpack(found.get(k)) for k in keys]

    def take(self, key: str) -> dict | None:
        stmt = sa.delete(entries).where(entries.c.key == key).returning(entries.c.value)
        _, rows = self._run(stmt)
        return _unpack(rows[0][0]) if rows else None

    def delete(self, *keys: str) -> None:
        if keys:
            self._run(sa.delete(entries).where(entries.c.key.in_(keys)))

    def incr(self, key: str, ttl: float) -> int:
        now = clock.now()
        expired = entries.c.expires_at <= now
        stmt = self._insert(entries).values(key=key, value="", counter=1, expires_at=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[entries.c.key],
            set_={
                "counter": sa.case((expired, 1), else_=entries.c.counter + 1),
                "expires_at": sa.case((expired, now + ttl), else_=entries.c.expires_at),
            },
        ).returning(entries.c.counter)
        _, rows = self._run(stmt)
        self._maybe_purge()
        return int(rows[0][0])

    def counter(self, key: str) -> int:
        stmt = sa.select(entries.c.counter).where(entries.c.key == key, entries.c.expires_at > clock.now())
        rows = self._run(stmt)[1]
        return int(rows[0][0]) if rows else 0

    def index_add(self, index: str, member: str, ttl: float) -> None:
        expires_at = clock.now() + ttl
        stmt = self._insert(members).values(index_key=index, member=member, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[members.c.index_key, members.c.member], set_={"expires_at": expires_at}
        )
        self._run(stmt)
        self._maybe_purge()

    def index_members(self, index: str) -> list[str]:
        stmt = sa.select(members.c.member).where(members.c.index_key == index, members.c.expires_at > clock.now())
        return [row[0] for row in self._run(stmt)[1]]

    def index_remove(self, index: str, *names: str) -> None:
        if names:
            self._run(sa.delete(members).where(members.c.index_key == index, members.c.member.in_(names)))

    def ping(self) -> None:
        self._run(sa.select(sa.func.count()).select_from(entries).where(entries.c.key == "ping"))


def make_store(redis_url: str, redis_prefix: str, engine: sa.Engine) -> EphemeralStore:
    """Redis when a URL is configured, otherwise the SQL table."""
    if redis_url:
        return RedisStore(redis_url, redis_prefix)
    return SqlStore(engine)
