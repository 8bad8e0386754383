"""The Alembic migrations match the models and run both ways, on every available back end."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

import idp  # noqa: F401  (with create_app below, every model module is imported)
import idp.accounts.models  # noqa: F401
import idp.audit  # noqa: F401
import idp.oidc.models  # noqa: F401
import idp.store  # noqa: F401
from idp import create_app
from idp.extensions import db

from .conftest import _dispose

# What a migrated database must hold; a table the models gain must get a migration too.
EXPECTED_TABLES = {
    "users",
    "clients",
    "signing_keys",
    "refresh_tokens",
    "consents",
    "audit_events",
    "ephemeral_entries",
    "ephemeral_members",
    "totp_factors",
    "recovery_codes",
}


@pytest.fixture
def migrated_app(backend):
    application = create_app(backend.fresh_settings(), testing=True)
    with application.app_context():
        yield application
        db.session.remove()
    _dispose(application)


@pytest.fixture
def back_at_head(migrated_app):
    """After a test that moves the schema, put it back at head even if the test failed half-way.

    The PostgreSQL database is shared by the session's tests; a failure here must not break theirs.
    """
    yield migrated_app
    with contextlib.suppress(Exception):
        upgrade(directory=migrated_app.extensions["migrate"].directory, revision="head")


def _differences(metadata: sa.MetaData) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def _current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _scripts(app) -> ScriptDirectory:
    return ScriptDirectory(app.extensions["migrate"].directory)


def test_models_cover_the_expected_tables():
    # Guards the comparison below: it is only as good as the models it sees.
    assert EXPECTED_TABLES <= set(db.metadata.tables)


def test_migrated_schema_matches_the_models(migrated_app):
    assert _tables() == set(db.metadata.tables)
    assert _differences(db.metadata) == []


def test_the_comparison_notices_a_model_change_without_a_migration(migrated_app):
    changed = sa.MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["users"].append_column(sa.Column("nickname", sa.String(64), nullable=True))
    sa.Table("loyalty_points", changed, sa.Column("id", sa.Integer, primary_key=True))

    differences = _differences(changed)

    assert len(differences) == 2, differences
    assert ("add_column", "users", "nickname") in [(d[0], d[2], d[3].name) for d in differences if d[0] == "add_column"]
    assert ("add_table", "loyalty_points") in [(d[0], d[1].name) for d in differences if d[0] == "add_table"]


def test_migrations_have_one_head_and_the_database_is_at_it(migrated_app):
    heads = _scripts(migrated_app).get_heads()

    assert len(heads) == 1
    assert _current_revision() == heads[0]


def test_downgrade_to_base_then_upgrade_to_head(back_at_head):
    migrated_app = back_at_head
    directory = migrated_app.extensions["migrate"].directory
    head = _scripts(migrated_app).get_current_head()

    downgrade(directory=directory, revision="base")
    assert _current_revision() is None
    assert _tables() == set()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            leftover_types = conn.execute(
                sa.text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')"
                )
            ).scalars().all()
        assert leftover_types == []

    upgrade(directory=directory, revision="head")
    assert _current_revision() == head
    assert _tables() == set(db.metadata.tables)
    assert _differences(db.metadata) == []


def test_every_migration_steps_down_and_up_again(back_at_head):
    """The stairway: from base, each revision upgrades, downgrades one step and upgrades again."""
    migrated_app = back_at_head
    directory = migrated_app.extensions["migrate"].directory
    revisions = [script.revision for script in reversed(list(_scripts(migrated_app).walk_revisions()))]
    assert len(revisions) >= 2

    downgrade(directory=directory, revision="base")
    previous_tables: set[str] = set()
    for revision in revisions:
        upgrade(directory=directory, revision=revision)
        tables_at_revision = _tables()
        assert _current_revision() == revision

        downgrade(directory=directory, revision="-1")
        assert _tables() == previous_tables, f"downgrade of {revision} did not restore the schema before it"

        upgrade(directory=directory, revision=revision)
        assert _tables() == tables_at_revision
        previous_tables = tables_at_revision

    assert _current_revision() == revisions[-1]
    assert _differences(db.metadata) == []


def test_the_user_id_rebuild_keeps_every_row_and_its_children(back_at_head):
    """0009 rebuilds `users` on SQLite: rows, and rows that reference them, all survive."""
    migrated_app = back_at_head
    directory = migrated_app.extensions["migrate"].directory
    downgrade(directory=directory, revision="0008")
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (id, sub, username, email_verified, phone_verified, password_hash, locked, "
            "marketing_consent, created_at, updated_at, must_change_password) "
            "VALUES (7, 'sub-seven', 'seven', false, false, 'x', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"
        ))
        conn.execute(sa.text("INSERT INTO recovery_codes (user_id, digest) VALUES (7, 'digest-seven')"))
    upgrade(directory=directory, revision="head")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT username FROM users WHERE id = 7")).scalar() == "seven"
        assert conn.execute(sa.text("SELECT count(*) FROM recovery_codes WHERE user_id = 7")).scalar() == 1


def test_the_id_of_a_deleted_newest_account_is_never_given_again(migrated_app):
    from idp.accounts.models import User
    from idp.accounts.service import register

    first = register(username="first1", password="Long-Enough-Passw0rd!", phone="+84901000001")
    newest = register(username="newest1", password="Long-Enough-Passw0rd!", phone="+84901000002")
    gone_id = newest.id
    db.session.delete(newest)
    db.session.commit()
    after = register(username="after1", password="Long-Enough-Passw0rd!", phone="+84901000003")
    assert after.id > gone_id > first.id
    assert db.session.get(User, gone_id) is None
