"""Budget counters with reservations, safe under concurrency on SQLite and PostgreSQL.

A model call first reserves its worst-case cost in every scope it belongs to (the session, the
user's day, the whole day). Each reservation is one conditional UPDATE,
`reserved = reserved + est WHERE spent + reserved + est <= limit`, which the database applies
atomically per row, so fifty concurrent callers cannot together pass a cap that each checked
alone. All scopes reserve in one transaction, in a fixed order, or none do. After the call the
estimate is swapped for the real cost.

Each reservation is also a row of its own (`budget_reservations`) naming its owner process and an
expiry, so a reservation is never held forever: when its process was killed mid-call, or it
outlived its expiry, the next reservation (or `reconcile()`) settles it at its estimate, the most
the request could have cost. Settling is exactly-once: whoever deletes the row moves the money; an
owner that settles after being reconciled only corrects spend by (actual - estimate).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from agent.store.models import BudgetReservationRow, BudgetRow
from agent.store.process_owner import current_owner, is_dead

log = logging.getLogger(__name__)
RESERVATION_TTL_S = 600.0
"""How long a reservation may stay open before anyone may settle it at its estimate: well above
the model client's request timeout, so a live request is not settled under its owner's feet."""


@dataclass(frozen=True)
class Scope:
    key: str
    limit_usd: float


@dataclass(frozen=True)
class Reservation:
    """A worst-case cost held in some scopes until `BudgetLedger.settle`."""

    id: str
    scopes: tuple[str, ...]
    estimate_usd: float


class BudgetFull(Exception):
    """A scope has no room for the estimate; nothing was reserved."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"the budget {scope} is full")
        self.scope = scope


@dataclass(frozen=True)
class Spend:
    scope: str
    spent_usd: float
    reserved_usd: float
    limit_usd: float

    @property
    def share(self) -> float:
        return (self.spent_usd + self.reserved_usd) / self.limit_usd if self.limit_usd else 1.0


class BudgetLedger:
    def __init__(self, engine: Engine, ttl_s: float = RESERVATION_TTL_S) -> None:
        self._engine = engine
        self._ttl = timedelta(seconds=ttl_s)
        # Only the dialect in use is imported: the PostgreSQL one costs ~25 ms at every start.
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._insert: Any = pg_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert = sqlite_insert

    def _ensure(self, db: Session, scopes: list[Scope]) -> None:
        now = datetime.now(UTC)
        for s in scopes:
            stmt = self._insert(BudgetRow).values(
                scope=s.key, limit_usd=s.limit_usd, spent_usd=0.0, reserved_usd=0.0, updated_at=now
            )
            db.execute(stmt.on_conflict_do_nothing(index_elements=["scope"]))

    def reserve(self, scopes: list[Scope], estimate_usd: float) -> Reservation:
        """Reserve `estimate_usd` in every scope, or raise BudgetFull naming the scope that is full.

        Reservations left by dead or expired owners are settled first, so they do not block."""
        self.reconcile()
        ordered = sorted(scopes, key=lambda s: s.key)
        now = datetime.now(UTC)
        held = Reservation(uuid.uuid4().hex, tuple(s.key for s in ordered), estimate_usd)
        with Session(self._engine) as db, db.begin():
            self._ensure(db, ordered)
            for s in ordered:
                done = db.execute(
                    update(BudgetRow)
                    .where(
                        BudgetRow.scope == s.key,
                        BudgetRow.spent_usd + BudgetRow.reserved_usd + estimate_usd <= s.limit_usd,
                    )
                    .values(
                        reserved_usd=BudgetRow.reserved_usd + estimate_usd,
                        limit_usd=s.limit_usd,
                        updated_at=now,
                    )
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
                    db.rollback()
                    raise BudgetFull(s.key)
            db.add(BudgetReservationRow(id=held.id, owner=current_owner(), scopes=list(held.scopes),
                                        estimate_usd=estimate_usd, created_at=now, expires_at=now + self._ttl))
        return held

    def settle(self, held: Reservation, actual_usd: float) -> None:
        """Swap a reservation for what the request really cost."""
        self._close(held.id, held.scopes, held.estimate_usd, actual_usd)

    def reconcile(self) -> int:
        """Settle, at their estimate, the reservations whose owner died or which expired; the
        number settled. Each is settled once however many processes reconcile at the same time."""
        now = datetime.now(UTC)
        with Session(self._engine) as db:
            rows = db.execute(select(BudgetReservationRow.id, BudgetReservationRow.owner, BudgetReservationRow.scopes,
                                     BudgetReservationRow.estimate_usd, BudgetReservationRow.expires_at)).all()
        settled, me = 0, current_owner()
        for rid, owner, scopes, estimate, expires in rows:
            expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)  # SQLite keeps no zone
            if (expires <= now or (owner != me and is_dead(owner))) and self._close(rid, tuple(scopes), estimate, estimate):
                settled += 1
                log.warning("settled a stale budget reservation at its worst case, $%.4f (owner %s)", estimate, owner)
        return settled

    def _close(self, rid: str, scopes: tuple[str, ...], estimate_usd: float, actual_usd: float) -> bool:
        """Move a reservation's money from reserved to spent; False when it was already settled
        (reconciled at its estimate), and then only the difference reaches `spent`."""
        with Session(self._engine) as db, db.begin():
            mine = db.execute(delete(BudgetReservationRow).where(BudgetReservationRow.id == rid))
            first: bool = mine.rowcount == 1  # type: ignore[attr-defined]  # a DELETE's CursorResult
            for key in sorted(scopes):
                db.execute(
                    update(BudgetRow)
                    .where(BudgetRow.scope == key)
                    .values(
                        reserved_usd=BudgetRow.reserved_usd - (estimate_usd if first else 0.0),
                        spent_usd=BudgetRow.spent_usd + (actual_usd if first else actual_usd - estimate_usd),
                        updated_at=datetime.now(UTC),
                    )
                )
        return first

    def spend(self, scopes: list[Scope]) -> list[Spend]:
        with Session(self._engine) as db:
            rows = db.scalars(select(BudgetRow).where(BudgetRow.scope.in_([s.key for s in scopes]))).all()
            return [Spend(r.scope, r.spent_usd, r.reserved_usd, r.limit_usd) for r in rows]
