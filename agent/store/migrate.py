"""Bring the schema to the newest migration on open, paying for Alembic only when there is work.

Opening the store happens in every `coach` process, and importing and running Alembic costs
~0.1-0.3 s, so the usual cases take a short cut:
- already at `HEAD` (one cheap query): nothing to do;
- an empty database (a new COACH_HOME): the models' tables are created and stamped at `HEAD` in
  one transaction; `tests/test_migrations.py` proves the migrations build exactly this schema;
- anything else (an older schema): Alembic upgrades it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from agent.errors import ConfigError
from agent.store.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0005"
"""The newest revision in `migrations/versions`; a test checks that it is Alembic's head."""


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


def upgrade(engine: Engine) -> None:
    revision = current_revision(engine)
    if revision == HEAD:
        return
    if revision is not None and revision not in known_revisions():
        raise ConfigError(
            f"this database was written by a newer coach (schema revision {revision!r}; this coach knows up "
            f"to {HEAD!r}): upgrade the coach (pip install -U interview-coach), or point DATABASE_URL or "
            "COACH_HOME at another database")
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
