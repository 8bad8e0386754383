"""user ids are never reused on SQLite

Without AUTOINCREMENT, SQLite gives a new row the highest id plus one, so
deleting the newest account would hand its id to the next one, and anything
still keyed by that id (a pending sign-in step, a reset ticket) would point
at a stranger. PostgreSQL sequences never go back; only SQLite changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
