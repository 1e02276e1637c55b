"""The PostgreSQL pool policy: a connection is pinged only after sitting idle, and one the server
dropped meanwhile is replaced without failing the caller; session locks write through a pool of
their own (autocommit, no WAL-flush wait) while the store keeps durable commits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, event, select, text

from agent.store.locks import SessionLocks
from agent.store.models import SessionLockRow
from agent.store.pool import ping_when_idle
from agent.store.repository import open_engine
from tests.conftest import _postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def engine() -> Iterator[Engine]:
    for url in _postgres_database():
        engine = open_engine(url)
        yield engine
        engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def _terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:  # another pooled connection than the victim's
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_connection_dropped_while_idle_is_replaced_at_checkout(engine: Engine) -> None:
    idle = create_engine(engine.url)
    try:
        ping_when_idle(idle, idle_s=0.0)  # every return to the pool counts as a long idle
        victim = _backend_pid(idle)
        _terminate(engine, victim)
        # The pooled connection is dead; the checkout's ping notices and the pool reconnects.
        assert _backend_pid(idle) != victim
    finally:
        idle.dispose()


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine) -> None:
    pings: list[object] = []
    original = engine.dialect.do_ping

    def counting(dbapi_conn: object) -> bool:
        pings.append(dbapi_conn)
        return original(dbapi_conn)

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    try:
        for _ in range(5):
            with engine.begin() as conn:
                conn.execute(text("SELECT 1"))
    finally:
        del engine.dialect.do_ping
    assert pings == []  # no round trip before each transaction (the old pre-ping made five)


def test_session_locks_commit_without_waiting_for_the_wal_and_the_store_keeps_durable_commits(engine: Engine) -> None:
    locks = SessionLocks(engine, lease_s=60)
    try:
        assert locks.try_take("s1")
        with engine.connect() as conn:  # seen at once by another connection: it committed
            assert conn.scalar(select(SessionLockRow.owner).where(SessionLockRow.session_id == "s1")) == locks.owner
            assert conn.scalar(text("SHOW synchronous_commit")) == "on"  # inbox rows stay durable
        with locks._engine.connect() as conn:
            assert conn.scalar(text("SHOW synchronous_commit")) == "off"
        assert locks._engine is not engine
        locks.release("s1")
        with engine.connect() as conn:
            assert conn.scalar(select(SessionLockRow.owner).where(SessionLockRow.session_id == "s1")) is None
    finally:
        locks.close()


def test_a_lock_is_one_statement_without_begin_or_commit(engine: Engine) -> None:
    locks = SessionLocks(engine, lease_s=60)
    sent: list[str] = []
    event.listen(locks._engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    try:
        assert locks.try_take("s2")
        locks.release("s2")
        with locks._engine.connect() as conn:
            assert conn.connection.driver_connection.autocommit  # psycopg sends no BEGIN, SA no COMMIT
    finally:
        locks.close()
    assert len(sent) == 2 and sent[0].startswith("INSERT") and sent[1].startswith("DELETE")
