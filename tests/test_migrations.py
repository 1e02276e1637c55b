"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from agent.config import Settings
from agent.store.models import Base
from agent.store.repository import Store


def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    store = Store.open(settings.db_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"render_as_batch": True})
            diff = compare_metadata(context, Base.metadata)
            assert diff == []
            assert context.get_current_revision() == "0003"
        assert {"users", "interview_sessions", "turns", "llm_usage", "topic_mastery", "review_cards",
                "budgets"} <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()
    Store.open(settings.db_url).close()  # opening again is a no-op upgrade
