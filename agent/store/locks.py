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

from sqlalchemy import Connection, Engine, and_, bindparam, create_engine, delete, or_, select, update
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
    """The lease table for one process: `owner` is this process, the same for every session.
    Its statements are built once and only bound per call."""

    def __init__(self, engine: Engine, lease_s: float) -> None:
        self._engine = _lock_engine(engine)
        self._own_engine = self._engine is not engine
        self.lease_s = lease_s
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        session = SessionLockRow.session_id == bindparam("sid")
        ours = and_(session, SessionLockRow.owner == bindparam("me"))
        # rowcount is not reliable for ON CONFLICT on every driver; RETURNING is
        self._insert_if_free = insert(SessionLockRow).values(
            session_id=bindparam("sid"), owner=bindparam("me"), expires_at=bindparam("expiry"),
        ).on_conflict_do_nothing().returning(SessionLockRow.owner)
        self._holder = select(SessionLockRow.owner).where(session)
        self._take_over = update(SessionLockRow).where(
            session, or_(SessionLockRow.owner == bindparam("me"), SessionLockRow.expires_at < bindparam("at"),
                         SessionLockRow.owner == bindparam("dead"))).values(owner=bindparam("me"),
                                                                     expires_at=bindparam("expiry"))
        self._renew = update(SessionLockRow).where(ours).values(expires_at=bindparam("expiry"))
        self._release = delete(SessionLockRow).where(ours)

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
        mine = {"sid": session_id, "me": self.owner, "expiry": now + self.lease_s}
        with self._tx() as conn:  # the usual case, a free session: one statement
            if conn.execute(self._insert_if_free, mine).first() is not None:
                return True
        with self._tx() as conn:  # the UPDATE checks the holder it was told is dead again, atomically
            holder = conn.scalar(self._holder, {"sid": session_id})
            dead = holder if holder and holder_is_dead(holder) else self.owner
            return bool(conn.execute(self._take_over, {**mine, "at": now, "dead": dead}).rowcount)

    def renew(self, session_id: str) -> bool:
        """Extend our lease; False when it lapsed and someone else took the session meanwhile."""
        with self._tx() as conn:
            return bool(conn.execute(self._renew, {"sid": session_id, "me": self.owner,
                                                   "expiry": time.time() + self.lease_s}).rowcount)

    def release(self, session_id: str) -> None:
        with self._tx() as conn:
            conn.execute(self._release, {"sid": session_id, "me": self.owner})
