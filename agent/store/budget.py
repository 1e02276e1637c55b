"""Budget counters with reservations, safe under concurrency on SQLite and PostgreSQL.

A model call first reserves its worst-case cost in every scope it belongs to (the session, the
user's day, the whole day). Each reservation is one conditional UPDATE,
`reserved = reserved + est WHERE spent + reserved + est <= limit`, which the database applies
atomically per row, so fifty concurrent callers cannot together pass a cap that each checked
alone. All scopes reserve in one transaction, in a fixed order, or none do. After the call the
estimate is swapped for the real cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from agent.store.models import BudgetRow


@dataclass(frozen=True)
class Scope:
    key: str
    limit_usd: float


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
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
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

    def reserve(self, scopes: list[Scope], estimate_usd: float) -> str | None:
        """Reserve `estimate_usd` in every scope; None on success, else the scope that is full."""
        ordered = sorted(scopes, key=lambda s: s.key)
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
                        updated_at=datetime.now(UTC),
                    )
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
                    db.rollback()
                    return s.key
        return None

    def settle(self, scopes: list[Scope], estimate_usd: float, actual_usd: float) -> None:
        """Swap a reservation for what the call really cost."""
        with Session(self._engine) as db, db.begin():
            for s in sorted(scopes, key=lambda s: s.key):
                db.execute(
                    update(BudgetRow)
                    .where(BudgetRow.scope == s.key)
                    .values(
                        reserved_usd=BudgetRow.reserved_usd - estimate_usd,
                        spent_usd=BudgetRow.spent_usd + actual_usd,
                        updated_at=datetime.now(UTC),
                    )
                )

    def spend(self, scopes: list[Scope]) -> list[Spend]:
        with Session(self._engine) as db:
            rows = db.scalars(select(BudgetRow).where(BudgetRow.scope.in_([s.key for s in scopes]))).all()
            return [Spend(r.scope, r.spent_usd, r.reserved_usd, r.limit_usd) for r in rows]
