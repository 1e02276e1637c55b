"""The Alembic migrations build exactly the schema the models describe, on both databases, and
the store's short cuts (a new database created from the models, a database at head left alone)
end in the same place."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from agent.config import Settings
from agent.store import migrate
from agent.store.models import Base
from agent.store.repository import Store

TABLES = {"users", "interview_sessions", "turns", "llm_usage", "topic_mastery", "review_cards", "budgets",
          "session_locks"}


def _assert_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == migrate.HEAD
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_head_constant_is_alembics_head() -> None:
    assert ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head() == migrate.HEAD


def test_migrations_from_scratch_match_the_models(settings: Settings) -> None:
    store = Store.open(settings.db_url)  # creates the user tables the fixtures expect, then drop them
    engine = store.engine
    try:
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE alembic_version")
        migrate.alembic_upgrade(engine)
        _assert_matches_models(engine)
    finally:
        store.close()


def test_a_new_database_is_created_at_head(settings: Settings) -> None:
    store = Store.open(settings.db_url)
    try:
        _assert_matches_models(store.engine)
    finally:
        store.close()
    Store.open(settings.db_url).close()  # opening again is a no-op


def test_an_older_schema_is_upgraded(settings: Settings) -> None:
    store = Store.open(settings.db_url)
    engine = store.engine
    try:
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE alembic_version")
        from alembic import command

        cfg = migrate.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
        assert migrate.current_revision(engine) == "0002"
        migrate.upgrade(engine)
        _assert_matches_models(engine)
    finally:
        store.close()


def test_current_revision_of_an_empty_database(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()
