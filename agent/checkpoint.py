"""The graph's checkpointer: a SQLite file under COACH_HOME, or PostgreSQL beside the store.

The interview state holds the domain's pydantic types; the checkpointer is told which ones it may
rebuild (LangGraph warns about, and will soon refuse, any type not on its allow-list).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from agent.config import Settings
from agent.domain import CodeRun, Grade, GuardrailEvent, KeyPointVerdict, Turn, Usage
from agent.graph.state import Action, OpenTurn
from agent.store.migrate import SCHEMA_LOCK_KEY, SCHEMA_LOCK_POLL_S, SCHEMA_LOCK_WAIT_S, schema_lock_busy

STATE_TYPES = (Action, OpenTurn, Turn, Grade, KeyPointVerdict, Usage, GuardrailEvent, CodeRun)


def _allow_state_types(saver: Any) -> Any:
    """Rebuild only LangGraph's own safe types and ours: nothing else in a checkpoint is imported."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    saver.serde = JsonPlusSerializer(allowed_msgpack_modules=[(t.__module__, t.__name__) for t in STATE_TYPES])
    return saver


async def _try_schema_lock(conn: Any) -> bool:
    row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (SCHEMA_LOCK_KEY,))).fetchone()
    return bool(row and row["taken"])


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[object]:
    url = settings.db_url
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url.replace("+psycopg", "")) as saver:
            # Several processes (webhook workers) may open it at once on a new database, and
            # setup() is not safe to run concurrently (a UniqueViolation on pg_type): one at a time,
            # under the store's schema lock. Polled, not waited for: setup() creates indexes
            # CONCURRENTLY, which waits for every open transaction, a blocked lock request included.
            conn: Any = saver.conn  # our own connection (from_conn_string), never a pool
            started = time.monotonic()
            while not await _try_schema_lock(conn):
                if time.monotonic() - started > SCHEMA_LOCK_WAIT_S:
                    raise schema_lock_busy(SCHEMA_LOCK_WAIT_S)
                await asyncio.sleep(SCHEMA_LOCK_POLL_S)
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
            yield _allow_state_types(saver)
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.checkpoint_path)) as saver:
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.conn.execute("PRAGMA synchronous=NORMAL")
        yield _allow_state_types(saver)
