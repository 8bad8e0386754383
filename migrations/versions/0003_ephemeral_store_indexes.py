"""ephemeral store indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('ephemeral_members',
    sa.Column('index_key', sa.String(length=255), nullable=False),
    sa.Column('member', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('index_key', 'member', name=op.f('pk_ephemeral_members'))
    )
    with op.batch_alter_table('ephemeral_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ephemeral_members_expires_at'), ['expires_at'], unique=False)




def downgrade():
    
    with op.batch_alter_table('ephemeral_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ephemeral_members_expires_at'))

    op.drop_table('ephemeral_members')

