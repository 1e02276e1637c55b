"""what a turn records about the candidate: self-rating, hinted key points, format section

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('self_rating', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hinted', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('section', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.drop_column('section')
        batch_op.drop_column('hinted')
        batch_op.drop_column('self_rating')
