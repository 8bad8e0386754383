"""logout channels

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('frontchannel_logout_uri', sa.String(length=2000), nullable=True))




def downgrade():
    
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('frontchannel_logout_uri')
        batch_op.drop_column('backchannel_logout_uri')


