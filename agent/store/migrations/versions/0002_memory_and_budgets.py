"""memory, budgets, and what a turn records about guardrails and code runs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('budgets',
    sa.Column('scope', sa.String(length=160), nullable=False),
    sa.Column('limit_usd', sa.Float(), nullable=False),
    sa.Column('spent_usd', sa.Float(), nullable=False),
    sa.Column('reserved_usd', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope')
    )
    op.create_table('review_cards',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.String(length=80), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviews', sa.Integer(), nullable=False),
    sa.Column('lapses', sa.Integer(), nullable=False),
    sa.Column('last_rating', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'question_id')
    )
    with op.batch_alter_table('review_cards', schema=None) as batch_op:
        batch_op.create_index('ix_review_cards_user_due', ['user_id', 'due'], unique=False)
    with op.batch_alter_table('interview_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_user_status_started', ['user_id', 'status', 'started_at'], unique=False)
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chosen_because', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('time_budget_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('late', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('guardrail_events', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('code_runs', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('interview_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_user_status_started')
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.drop_column('code_runs')
        batch_op.drop_column('guardrail_events')
        batch_op.drop_column('late')
        batch_op.drop_column('time_budget_s')
        batch_op.drop_column('chosen_because')
    with op.batch_alter_table('review_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_review_cards_user_due')

    op.drop_table('review_cards')
    op.drop_table('budgets')
