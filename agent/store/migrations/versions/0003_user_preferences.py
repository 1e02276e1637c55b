"""user preferences (difficulty, default topic)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferences', sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not batch mode on SQLite: a batch copies `users` and drops the original, which foreign keys
    # (on in every coach connection) refuse while sessions point at it. SQLite 3.35+ drops a plain
    # column in place.
    op.drop_column('users', 'preferences')
