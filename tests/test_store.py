"""The ephemeral store contract (idp/store.py), on every available implementation.

One set of tests runs against:
- SqlStore on a migrated SQLite database (always),
- SqlStore on a migrated PostgreSQL database (IDP_TEST_DATABASE_URL),
- RedisStore under a key prefix of its own (IDP_TEST_REDIS_URL).

Time is moved with idp.clock.travel(); the autouse `real_time` fixture puts it back.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from idp import clock, create_app
from idp.extensions import db
from idp.store import RedisStore, SqlStore, StoreUnavailable, entries, members

from .conftest import PG_URL, REDIS_URL, RUN_ID, _dispose

IMPLEMENTATIONS = ["sql-sqlite"] + (["sql-postgres"] if PG_URL else []) + (["redis"] if REDIS_URL else [])
SQL_IMPLEMENTATIONS = [name for name in IMPLEMENTATIONS if name.startswith("sql-")]


def _sql_store(backends, name: str):
    """A SqlStore on a freshly migrated copy of the back end's database, inside its app."""
    app = create_app(backends(name).fresh_settings(), testing=True)
    context = app.app_context()
    context.push()
    store = SqlStore(db.engine)

    def close():
        context.pop()
        _dispose(app)

    return store, close


def _redis_store():
    import redis

    prefix = f"idp-test:{RUN_ID}:store:{uuid.uuid4().hex[:8]}:"
    store = RedisStore(REDIS_URL, prefix)

    def close():
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(prefix + "*", count=1000):
            client.delete(key)
        client.close()
        store.client.close()

    return store, close


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request, backends):
    if request.param == "redis":
        made, close = _redis_store()
    else:
        made, close = _sql_store(backends, request.param.removeprefix("sql-"))
    yield made
    close()


@pytest.fixture(params=SQL_IMPLEMENTATIONS)
def sql_store(request, backends):
    made, close = _sql_store(backends, request.param.removeprefix("sql-"))
    yield made
    close()


# put / get / get_many ----------------------------------------------------------------


def test_put_then_get_returns_the_value(store):
    store.put("session:a", {"user": 1, "amr": ["pwd"], "name": "Nguyễn"}, 60)

    assert store.get("session:a") == {"user": 1, "amr": ["pwd"], "name": "Nguyễn"}
    assert store.get("session:missing") is None


def test_put_overwrites_the_previous_value(store):
    store.put("k", {"n": 1}, 60)
    store.put("k", {"n": 2}, 60)

    assert store.get("k") == {"n": 2}


def test_overwrite_replaces_the_expiry_too(store):
    store.put("k", {"n": 1}, 10)
    store.put("k", {"n": 2}, 100)
    clock.travel(50)

    assert store.get("k") == {"n": 2}


def test_get_many_returns_values_in_order_with_none_for_missing_keys(store):
    store.put("a", {"v": "a"}, 60)
    store.put("c", {"v": "c"}, 60)
    store.put("gone", {"v": "gone"}, 5)
    clock.travel(10)

    assert store.get_many(["c", "missing", "a", "gone"]) == [{"v": "c"}, None, {"v": "a"}, None]
    assert store.get_many([]) == []


def test_put_values_expire_after_their_ttl(store):
    store.put("short", {"v": 1}, 30)
    store.put("long", {"v": 2}, 300)

    clock.travel(29)
    assert store.get("short") == {"v": 1}

    clock.travel(2)
    assert store.get("short") is None
    assert store.get("long") == {"v": 2}

    clock.travel(300)
    assert store.get("long") is None


# take ------------------------------------------------------------------------------------


def test_take_returns_the_value_once_and_only_once(store):
    store.put("code:1", {"client": "rp"}, 60)

    assert store.take("code:1") == {"client": "rp"}
    assert store.take("code:1") is None
    assert store.get("code:1") is None
    assert store.take("code:never-stored") is None


def test_take_of_an_expired_value_returns_nothing(store):
    store.put("code:old", {"client": "rp"}, 60)
    clock.travel(61)

    assert store.take("code:old") is None


def test_take_under_concurrency_gives_the_value_to_exactly_one_caller(store):
    store.put("code:race", {"client": "rp"}, 60)
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list = []
    errors: list = []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait(timeout=10)
            got = store.take("code:race")
        except Exception as error:  # reported below: every caller must get an answer
            with lock:
                errors.append(error)
            return
        with lock:
            results.append(got)

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == threads_count
    assert [r for r in results if r is not None] == [{"client": "rp"}]
    assert results.count(None) == threads_count - 1


# add ---------------------------------------------------------------------------------------


def test_add_stores_only_when_the_key_is_absent(store):
    assert store.add("cool:1", {"n": 1}, 60) is True
    assert store.add("cool:1", {"n": 2}, 60) is False

    assert store.get("cool:1") == {"n": 1}


def test_add_does_not_replace_a_value_put_there(store):
    store.put("cool:2", {"n": 1}, 60)

    assert store.add("cool:2", {"n": 2}, 60) is False
    assert store.get("cool:2") == {"n": 1}


def test_add_stores_again_once_the_previous_value_has_expired(store):
    assert store.add("cool:3", {"n": 1}, 60) is True
    clock.travel(61)
    assert store.get("cool:3") is None  # nothing live under the key ...

    assert store.add("cool:3", {"n": 2}, 60) is True  # ... so add must store
    assert store.get("cool:3") == {"n": 2}


def test_add_stores_again_once_a_short_ttl_has_run_out_in_real_time(store):
    # No clock travel: a fractional TTL (the protocol takes a float) really runs out.
    assert store.add("cool:4", {"n": 1}, 0.3) is True
    time.sleep(0.4)
    assert store.get("cool:4") is None

    assert store.add("cool:4", {"n": 2}, 60) is True
    assert store.get("cool:4") == {"n": 2}


# replace -------------------------------------------------------------------------------------


def test_replace_updates_a_live_value_and_its_expiry(store):
    store.put("sess:1", {"n": 1}, 60)

    assert store.replace("sess:1", {"n": 2}, 600) is True
    clock.travel(120)
    assert store.get("sess:1") == {"n": 2}


def test_replace_never_revives_a_deleted_or_absent_key(store):
    store.put("sess:2", {"n": 1}, 60)
    store.delete("sess:2")

    assert store.replace("sess:2", {"n": 2}, 60) is False
    assert store.replace("sess:never", {"n": 2}, 60) is False
    assert store.get("sess:2") is None
    assert store.get("sess:never") is None


def test_replace_does_not_revive_an_expired_value(store):
    store.put("sess:3", {"n": 1}, 60)
    clock.travel(61)

    assert store.replace("sess:3", {"n": 2}, 60) is False
    assert store.get("sess:3") is None


# delete --------------------------------------------------------------------------------------


def test_delete_forgets_the_keys_given_and_only_those(store):
    store.put("a", {"v": 1}, 60)
    store.put("b", {"v": 2}, 60)
    store.put("c", {"v": 3}, 60)

    store.delete("a", "b", "never-stored")
    store.delete()  # no keys: nothing happens

    assert store.get_many(["a", "b", "c"]) == [None, None, {"v": 3}]
    assert store.take("a") is None


# incr / counter ---------------------------------------------------------------------------------


def test_incr_counts_from_one_per_key(store):
    assert [store.incr("rl:ip:1", 60) for _ in range(3)] == [1, 2, 3]
    assert store.incr("rl:ip:2", 60) == 1

    assert store.counter("rl:ip:1") == 3
    assert store.counter("rl:ip:2") == 1
    assert store.counter("rl:ip:never") == 0


def test_incr_counts_every_call_under_concurrency(store):
    threads_count, per_thread = 8, 5
    barrier = threading.Barrier(threads_count)
    seen: list[int] = []
    lock = threading.Lock()

    def worker():
        barrier.wait(timeout=10)
        for _ in range(per_thread):
            value = store.incr("rl:busy", 60)
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    total = threads_count * per_thread
    assert sorted(seen) == list(range(1, total + 1))
    assert store.counter("rl:busy") == total


def test_sql_incr_restarts_after_its_window(sql_store):
    # The window starts at the first increment and is not extended by later ones.
    assert sql_store.incr("rl:w", 10) == 1
    clock.travel(6)
    assert sql_store.incr("rl:w", 10) == 2
    clock.travel(3)
    assert sql_store.incr("rl:w", 10) == 3
    assert sql_store.counter("rl:w") == 3

    clock.travel(2)  # 11 s after the first increment
    assert sql_store.counter("rl:w") == 0
    assert sql_store.incr("rl:w", 10) == 1
    assert sql_store.counter("rl:w") == 1


@pytest.mark.skipif(not REDIS_URL, reason="needs IDP_TEST_REDIS_URL")
def test_redis_counter_window_is_the_keys_redis_ttl():
    # Redis counters expire by Redis' own TTL (clock.travel cannot move it): check the TTL is set once.
    store, close = _redis_store()
    try:
        store.incr("rl:ttl", 100)
        first_ttl = store.client.ttl(store.prefix + "rl:ttl")
        store.incr("rl:ttl", 100)
        assert 0 < first_ttl <= 100
        assert 0 < store.client.ttl(store.prefix + "rl:ttl") <= first_ttl
        store.client.delete(store.prefix + "rl:ttl")
        assert store.counter("rl:ttl") == 0
        assert store.incr("rl:ttl", 100) == 1
    finally:
        close()


# named sets ----------------------------------------------------------------------------------------


def test_index_members_expire_one_by_one_and_can_be_removed(store):
    store.index_add("sessions:user1", "sid-a", 30)
    store.index_add("sessions:user1", "sid-b", 300)
    store.index_add("sessions:user1", "sid-c", 300)
    store.index_add("sessions:user2", "sid-z", 300)

    assert sorted(store.index_members("sessions:user1")) == ["sid-a", "sid-b", "sid-c"]

    clock.travel(31)
    assert sorted(store.index_members("sessions:user1")) == ["sid-b", "sid-c"]

    store.index_remove("sessions:user1", "sid-b", "not-a-member")
    assert store.index_members("sessions:user1") == ["sid-c"]
    assert store.index_members("sessions:user2") == ["sid-z"]
    assert store.index_members("sessions:nobody") == []


# SqlStore.purge --------------------------------------------------------------------------------------


def _rows(sql_store) -> tuple[list[str], list[tuple[str, str]]]:
    with sql_store.engine.connect() as conn:
        keys = sorted(conn.execute(sa.select(entries.c.key)).scalars())
        named = sorted(tuple(r) for r in conn.execute(sa.select(members.c.index_key, members.c.member)))
    return keys, named


def test_sql_purge_removes_only_expired_rows(sql_store):
    sql_store.put("old", {"v": 1}, 10)
    sql_store.put("new", {"v": 2}, 1000)
    sql_store.incr("rl:old", 10)
    sql_store.incr("rl:new", 1000)
    sql_store.index_add("idx", "old-member", 10)
    sql_store.index_add("idx", "new-member", 1000)
    clock.travel(20)

    removed = sql_store.purge()

    assert removed == 3
    keys, named = _rows(sql_store)
    assert keys == ["new", "rl:new"]
    assert named == [("idx", "new-member")]
    assert sql_store.get("new") == {"v": 2}
    assert sql_store.counter("rl:new") == 1
    assert sql_store.purge() == 0


# unreachable back ends ----------------------------------------------------------------------------------


def test_redis_store_on_a_closed_port_raises_store_unavailable():
    store = RedisStore("redis://127.0.0.1:1/0", prefix="idp-test:closed:")
    calls = {
        "ping": lambda: store.ping(),
        "put": lambda: store.put("k", {"v": 1}, 60),
        "add": lambda: store.add("k", {"v": 1}, 60),
        "get": lambda: store.get("k"),
        "get_many": lambda: store.get_many(["k", "j"]),
        "take": lambda: store.take("k"),
        "delete": lambda: store.delete("k"),
        "incr": lambda: store.incr("k", 60),
        "counter": lambda: store.counter("k"),
        "index_add": lambda: store.index_add("i", "m", 60),
        "index_members": lambda: store.index_members("i"),
        "index_remove": lambda: store.index_remove("i", "m"),
    }
    for name, call in calls.items():
        with pytest.raises(StoreUnavailable):
            call()
            pytest.fail(f"{name} did not raise")


def test_sql_store_on_an_unopenable_database_raises_store_unavailable(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}")
    store = SqlStore(engine)
    try:
        for call in (
            lambda: store.ping(),
            lambda: store.put("k", {"v": 1}, 60),
            lambda: store.get("k"),
            lambda: store.take("k"),
            lambda: store.incr("k", 60),
        ):
            with pytest.raises(StoreUnavailable):
                call()
    finally:
        engine.dispose()
