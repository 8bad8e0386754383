"""contracts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('contracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('holder_name', sa.String(length=128), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('branch', sa.String(length=64), nullable=True),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('number', name=op.f('uq_contracts_number'))
    )
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracts_phone'), ['phone'], unique=False)

    op.create_table('contract_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_keys_contract_id_contracts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_keys')),
    sa.UniqueConstraint('kind', 'value', name=op.f('uq_contract_keys_kind'))
    )
    with op.batch_alter_table('contract_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_keys_contract_id'), ['contract_id'], unique=False)

    op.create_table('contract_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_number', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_contract_links_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_links'))
    )
    with op.batch_alter_table('contract_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_links_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_contract_links_active_number', ['contract_number'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))




def downgrade():
    
    with op.batch_alter_table('contract_links', schema=None) as batch_op:
        batch_op.drop_index('uq_contract_links_active_number', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_contract_links_user_id'))

    op.drop_table('contract_links')
    with op.batch_alter_table('contract_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_keys_contract_id'))

    op.drop_table('contract_keys')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contracts_phone'))

    op.drop_table('contracts')

