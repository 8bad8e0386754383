"""The hot path does no more database work than the request needs (statements counted on the wire)."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from .helpers import signed_in_tokens


@contextlib.contextmanager
def statements(app):
    """Every SQL statement sent while the block runs (the SQL store included, on SQLite)."""
    from idp.extensions import db

    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement.split()[0].upper())

    def commit(conn):
        sent.append("COMMIT")

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    sa.event.listen(engine, "commit", commit)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        sa.event.remove(engine, "commit", commit)


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True)


@pytest.fixture
def tokens(client, rp, make_user):
    return signed_in_tokens(client, rp, make_user())


def uses_sql_store(app) -> bool:
    from idp.store import SqlStore

    return isinstance(app.extensions["idp"].store, SqlStore)


def test_userinfo_reads_the_token_then_its_client_and_account_in_one_query(app, client, tokens):
    with statements(app) as sent:
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
    expected = ["SELECT", "SELECT"] if uses_sql_store(app) else ["SELECT"]
    assert [s for s in sent if s not in ("BEGIN", "ROLLBACK", "COMMIT")] == expected


def test_jwks_and_discovery_touch_no_database(app, client, tokens):
    client.get("/jwks.json")
    with statements(app) as sent:
        for _ in range(5):
            assert client.get("/jwks.json").status_code == 200
            assert client.get("/.well-known/openid-configuration").status_code == 200
    assert sent == []


def test_refresh_is_one_write_transaction(app, client, rp, tokens):
    with statements(app) as sent:
        response = client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(rp["client_id"], rp["client_secret"]),
        )
        assert response.status_code == 200
    writes = [s for s in sent if s in ("INSERT", "UPDATE", "DELETE")]
    # The refresh token row: UPDATE (rotated) + INSERT (successor); plus the access token in the SQL store.
    assert writes == (["UPDATE", "INSERT", "INSERT"] if uses_sql_store(app) else ["UPDATE", "INSERT"])
    assert sent.count("COMMIT") == (2 if uses_sql_store(app) else 1)


def test_introspection_reads_the_caller_then_the_token_then_its_client_and_account(app, client, rp, tokens):
    with statements(app) as sent:
        answer = client.post("/introspect", data={"token": tokens["access_token"]}, auth=(rp["client_id"], rp["client_secret"]))
        assert answer.get_json()["active"] is True
    expected = ["SELECT", "SELECT", "SELECT"] if uses_sql_store(app) else ["SELECT", "SELECT"]
    assert [s for s in sent if s not in ("BEGIN", "ROLLBACK", "COMMIT")] == expected
