"""The chat inbox: platform updates stored durably before they are acknowledged, then handled once.

Why: Telegram counts an update as delivered when the bot asks for the next offset (polling) or
answers 200 (webhook). A bot that handles an update only in memory loses it if the process dies
in between. So the front-end stores each update here first, keyed by its update id (a repeat is
dropped by the primary key), acknowledges it, and handles rows from here in update-id order.

Several bot processes may share one database. One of them at a time drains a chat: a lease row,
taken with a conditional UPDATE that commits at once, so a chat's updates are handled in order
and once, and no database connection stays pinned while a handler waits on the network. A lease
runs out by itself (a worker killed mid-drain), and a restarted worker frees its own at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from agent.store.models import ChatLeaseRow, ChatUpdateRow


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class InboxUpdate:
    """One stored update, waiting to be handled."""

    update_id: int
    chat_id: int
    payload: dict[str, Any]
    received_at: datetime | None = None
    """When it was stored (UTC): a chat's merge window for consecutive text answers counts from it."""


class UpdateInbox:
    """Store, lease and mark updates; every method is one short transaction.

    The statements are built once, with bound parameters, so a call only binds values: building
    and hashing a statement per call cost more CPU than the database's work."""

    def __init__(self, engine: Engine, lease_seconds: float = 60.0) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
        self._add = insert(ChatUpdateRow).values(
            update_id=bindparam("uid"), chat_id=bindparam("chat"), payload=bindparam("body"),
            received_at=bindparam("at")).on_conflict_do_nothing(index_elements=["update_id"]).returning(
            ChatUpdateRow.update_id)
        self._add_lease = insert(ChatLeaseRow).values(chat_id=bindparam("chat")).on_conflict_do_nothing(
            index_elements=["chat_id"])
        # The lease for a worker if it is free, expired or its own: one upsert, which locks the lease
        # row until commit whether or not it takes it (PostgreSQL's ON CONFLICT DO UPDATE).
        self._take_lease = insert(ChatLeaseRow).values(
            chat_id=bindparam("chat"), worker=bindparam("who"), lease_until=bindparam("until"),
        ).on_conflict_do_update(
            index_elements=["chat_id"], set_={"worker": bindparam("who"), "lease_until": bindparam("until")},
            where=or_(ChatLeaseRow.worker.is_(None), ChatLeaseRow.worker == bindparam("who"),
                      ChatLeaseRow.lease_until < bindparam("at")),
        ).returning(ChatLeaseRow.chat_id)
        mine = and_(ChatLeaseRow.chat_id == bindparam("chat"), ChatLeaseRow.worker == bindparam("who"))
        self._release = update(ChatLeaseRow).where(mine).values(worker=None, lease_until=None)
        self._renew = update(ChatLeaseRow).where(mine).values(lease_until=bindparam("until"))
        self._mark = update(ChatUpdateRow).where(ChatUpdateRow.update_id.in_(bindparam("ids", expanding=True))).values(
            handled_at=bindparam("at"))
        self._pending = (select(ChatUpdateRow.update_id, ChatUpdateRow.chat_id, ChatUpdateRow.payload, ChatUpdateRow.received_at)
                         .where(ChatUpdateRow.chat_id == bindparam("chat"), ChatUpdateRow.handled_at.is_(None))
                         .order_by(ChatUpdateRow.update_id).limit(bindparam("limit")))

    def store(self, updates: list[tuple[int, int, dict[str, Any]]],
              worker: str | None = None) -> dict[int, list[InboxUpdate] | None]:
        """Store (update_id, chat_id, payload) rows in one transaction; an update id already stored
        is ignored, handled or not. Returns the chats that got a new row; with `worker`, each
        chat's lease is taken in the same transaction where free, and the chat maps to its
        unhandled updates (None: another worker holds it)."""
        if not updates:
            return {}
        now = _now()
        chats: dict[int, list[InboxUpdate] | None] = {}
        with self.engine.begin() as conn:
            for update_id, chat_id, payload in updates:
                added = conn.execute(self._add, {"uid": update_id, "chat": chat_id, "body": payload,
                                                 "at": now})
                if added.first() is not None:
                    chats[chat_id] = None
            for chat_id in chats:
                if worker is None:
                    conn.execute(self._add_lease, {"chat": chat_id})
                elif self._take(conn, chat_id, worker, now):
                    chats[chat_id] = self._waiting(conn, chat_id)
        return chats

    def _take(self, conn: Connection, chat_id: int, worker: str, now: datetime) -> bool:
        taken = conn.execute(self._take_lease, {"chat": chat_id, "who": worker, "until": now + self.lease,
                                                "at": now})
        return taken.first() is not None

    def claim(self, chat_id: int, worker: str, limit: int = 20) -> list[InboxUpdate] | None:
        """Take the chat's lease for `worker` and return its unhandled updates, oldest first (the
        lease is given back at once when there are none); None when another worker holds it."""
        with self.engine.begin() as conn:
            if not self._take(conn, chat_id, worker, _now()):
                return None
            batch = self._waiting(conn, chat_id, limit)
            if not batch:
                conn.execute(self._release, {"chat": chat_id, "who": worker})
            return batch

    def release(self, chat_id: int, worker: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._release, {"chat": chat_id, "who": worker})

    def release_all(self, worker: str) -> int:
        """Free every lease `worker` holds (its earlier process died holding them)."""
        with self.engine.begin() as conn:
            return int(conn.execute(update(ChatLeaseRow).where(ChatLeaseRow.worker == worker)
                                    .values(worker=None, lease_until=None)).rowcount)

    def pending(self, chat_id: int, limit: int = 20) -> list[InboxUpdate]:
        """The chat's unhandled updates, oldest first."""
        with self.engine.connect() as conn:
            return self._waiting(conn, chat_id, limit)

    def _waiting(self, conn: Connection, chat_id: int, limit: int = 20) -> list[InboxUpdate]:
        rows = conn.execute(self._pending, {"chat": chat_id, "limit": limit}).all()
        # SQLite hands back naive datetimes: they were stored in UTC.
        return [InboxUpdate(r.update_id, r.chat_id, r.payload,
                            r.received_at if r.received_at.tzinfo else r.received_at.replace(tzinfo=UTC))
                for r in rows]

    def handled(self, update_id: int | Iterable[int], chat_id: int, worker: str, limit: int = 20) -> list[InboxUpdate]:
        """Mark one update (or several: the parts of one merged answer) handled and return what still
        waits in the chat, in one transaction: the lease is renewed while there is more, and given
        back when there is none. (A worker storing an update meanwhile either is seen here, or takes
        the lease after this commits.)"""
        ids = [update_id] if isinstance(update_id, int) else list(update_id)
        now = _now()
        with self.engine.begin() as conn:
            # The lease row first: it is the lock a storing worker's upsert also takes, so either
            # its new row is committed before the pending query below, or it waits for this
            # transaction and then finds the lease free.
            conn.execute(self._renew, {"chat": chat_id, "who": worker, "until": now + self.lease})
            conn.execute(self._mark, {"ids": ids, "at": now})
            batch = self._waiting(conn, chat_id, limit)
            if not batch:
                conn.execute(self._release, {"chat": chat_id, "who": worker})
            return batch

    def chats_waiting(self, limit: int = 500) -> list[int]:
        """Chats with unhandled updates and no live lease: work a dead or busy worker left behind."""
        now = _now()
        lease_live = exists().where(ChatLeaseRow.chat_id == ChatUpdateRow.chat_id, ChatLeaseRow.worker.is_not(None),
                                    ChatLeaseRow.lease_until >= now)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ChatUpdateRow.chat_id).where(and_(ChatUpdateRow.handled_at.is_(None), ~lease_live))
                .group_by(ChatUpdateRow.chat_id).order_by(func.min(ChatUpdateRow.update_id)).limit(limit)
            ).scalars().all()
        return list(rows)

    def is_waiting(self, chat_id: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(exists().where(ChatUpdateRow.chat_id == chat_id,
                                                      ChatUpdateRow.handled_at.is_(None)))).scalar_one()

    def last_update_id(self) -> int | None:
        """The newest update id stored: polling resumes after it."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(ChatUpdateRow.update_id))).scalar_one_or_none()
        return None if value is None else int(value)

    def prune(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Forget handled updates older than `older_than` (Telegram redelivers for at most a day)."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(ChatUpdateRow).where(
                ChatUpdateRow.handled_at.is_not(None), ChatUpdateRow.handled_at < _now() - older_than)).rowcount)
