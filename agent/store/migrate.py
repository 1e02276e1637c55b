"""Bring the schema to the newest migration on open, paying for Alembic only when there is work.

Opening the store happens in every `coach` process, and importing and running Alembic costs
~0.1-0.3 s, so the usual cases take a short cut:
- already at `HEAD` (one cheap query): nothing to do;
- an empty database (a new COACH_HOME): the models' tables are created and stamped at `HEAD` in
  one transaction; `tests/test_migrations.py` proves the migrations build exactly this schema;
- anything else (an older schema): Alembic upgrades it.

Several processes may open one new database at once (bot workers, MCP servers, terminals): the
work runs under one schema lock, PostgreSQL's session-level advisory lock `SCHEMA_LOCK_KEY` on a
connection of its own (the checkpointer's setup takes the same key), or a file lock beside a
SQLite file, and the revision is read again once the lock is held.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from agent.errors import ConfigError
from agent.store.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0007"
"""The newest revision in `migrations/versions`; a test checks that it is Alembic's head."""
SCHEMA_LOCK_KEY = 0x636F616368
"""PostgreSQL advisory lock key ("coach") serialising schema work: migrations and checkpointer setup."""
SCHEMA_LOCK_WAIT_S = 300.0
SCHEMA_LOCK_POLL_S = 0.05
"""A waiter polls `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a blocked
statement is an open transaction, and LangGraph's setup (CREATE INDEX CONCURRENTLY) waits for every
open transaction, so a blocking waiter and the holder would deadlock."""


def schema_lock_busy(waited_s: float) -> ConfigError:
    return ConfigError(f"another coach process has been creating the database schema for {waited_s:.0f} s; "
                       "check that it is still running (or stop it), then start again")


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The stamped revision, or None when the database has no Alembic version table."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return None
    return rows[0] if len(rows) == 1 else None


def known_revisions() -> set[str]:
    """Every revision this version's migrations define (read from the files, without Alembic)."""
    found = (re.search(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", p.read_text(encoding="utf-8"), re.MULTILINE)
             for p in (MIGRATIONS / "versions").glob("*.py"))
    return {m[1] for m in found if m}


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's schema lock: one process at a time creates or migrates the schema."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            started = time.monotonic()
            while not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY}).scalar():
                conn.commit()
                if time.monotonic() - started > SCHEMA_LOCK_WAIT_S:
                    raise schema_lock_busy(SCHEMA_LOCK_WAIT_S)
                time.sleep(SCHEMA_LOCK_POLL_S)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or os.name != "posix":
        yield
        return
    import fcntl

    with open(f"{database}.schema-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def upgrade(engine: Engine) -> None:
    revision = current_revision(engine)
    if revision == HEAD:
        return
    if revision is not None and revision not in known_revisions():
        raise ConfigError(
            f"this database was written by a newer coach (schema revision {revision!r}; this coach knows up "
            f"to {HEAD!r}): upgrade the coach (pip install -U interview-coach), or point DATABASE_URL or "
            "COACH_HOME at another database")
    with schema_lock(engine):
        if current_revision(engine) != HEAD:  # another process may have done it while we waited
            _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    with engine.begin() as conn:
        if not inspect(conn).get_table_names():
            Base.metadata.create_all(conn)
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                              "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})
            return
    alembic_upgrade(engine)


def alembic_upgrade(engine: Engine) -> None:
    """Run the migrations from wherever the database stands to the head."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
