"""One writer per session across processes and machines: a lease row in the database.

A holder owns `session_locks(session_id)` until it releases the row or its lease lapses. Taking
the lock is a conditional statement, atomic on SQLite and PostgreSQL alike:
- INSERT ... ON CONFLICT DO NOTHING: a free session (the usual case) is taken in one statement;
- else UPDATE ... WHERE the row is ours or its lease has lapsed, or its holder is a dead process on
  this host (recognised by `host:pid` in `owner`: a `kill -9` costs nobody a lease's wait).
The holder renews its lease while it works (`SessionLock.renew`), so a long grading or code run
keeps it, and a holder killed on another machine frees the session one lease later.

Every operation is one statement, so on PostgreSQL the locks use a small pool of their own in
autocommit with `synchronous_commit` off: taking, renewing or releasing a lock is one round trip
(no BEGIN, SET, COMMIT), and waits for no WAL flush. A lock row needs no durability on a server
crash: every holder's transaction dies with it. Other sessions see the change at once either way.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Insert, create_engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agent.store.models import SessionLockRow
from agent.store.pool import ping_when_idle

HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def holder_is_dead(owner: str) -> bool:
    """True when `owner` names a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return host == HOST and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))


LOCK_POOL_SIZE = 4
"""Connections of a process's lock pool (PostgreSQL): each holds one for one statement."""


def _lock_engine(engine: Engine) -> Engine:
    """The engine the locks write through: on PostgreSQL a small autocommit pool of their own,
    whose sessions commit without waiting for the WAL flush; on SQLite the store's engine."""
    if engine.dialect.name != "postgresql":
        return engine
    locks = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=LOCK_POOL_SIZE, max_overflow=8,
                          connect_args={"options": "-c synchronous_commit=off"})
    ping_when_idle(locks)
    return locks


class SessionLocks:
    """The lease table for one process: `owner` is this process, the same for every session."""

    def __init__(self, engine: Engine, lease_s: float) -> None:
        self._engine = _lock_engine(engine)
        self._own_engine = self._engine is not engine
        self.lease_s = lease_s
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def close(self) -> None:
        if self._own_engine:
            self._engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:  # on PostgreSQL, autocommit: each statement stands alone
            yield conn

    def try_take(self, session_id: str) -> bool:
        """Take the session's lock if it is free, lapsed, ours or held by a dead process here."""
        now = time.time()
        expires = now + self.lease_s
        mine = SessionLockRow.session_id == session_id
        with self._tx() as conn:  # the usual case, a free session: one statement
            # rowcount is not reliable for ON CONFLICT on every driver; RETURNING is
            if conn.execute(self._insert_if_free(session_id, expires)).first() is not None:
                return True
        with self._tx() as conn:  # the UPDATE checks the holder it was told is dead again, atomically
            holder = conn.scalar(select(SessionLockRow.owner).where(mine))
            taken = conn.execute(
                update(SessionLockRow)
                .where(mine, (SessionLockRow.owner == self.owner) | (SessionLockRow.expires_at < now)
                       | (SessionLockRow.owner == (holder if holder and holder_is_dead(holder) else self.owner)))
                .values(owner=self.owner, expires_at=expires)
            ).rowcount
        return bool(taken)

    def _insert_if_free(self, session_id: str, expires: float) -> Insert:
        values = {"session_id": session_id, "owner": self.owner, "expires_at": expires}
        if self._engine.dialect.name == "postgresql":
            return pg_insert(SessionLockRow).values(values).on_conflict_do_nothing().returning(SessionLockRow.owner)
        return sqlite_insert(SessionLockRow).values(values).on_conflict_do_nothing().returning(SessionLockRow.owner)

    def renew(self, session_id: str) -> bool:
        """Extend our lease; False when it lapsed and someone else took the session meanwhile."""
        with self._tx() as conn:
            return bool(conn.execute(
                update(SessionLockRow)
                .where(SessionLockRow.session_id == session_id, SessionLockRow.owner == self.owner)
                .values(expires_at=time.time() + self.lease_s)
            ).rowcount)

    def release(self, session_id: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(SessionLockRow).where(
                SessionLockRow.session_id == session_id, SessionLockRow.owner == self.owner))
