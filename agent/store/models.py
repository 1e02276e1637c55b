"""SQLAlchemy 2 typed tables. Alembic migrations in `migrations/` must match these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime]
    preferences: Mapped[dict[str, Any] | None]
    """The candidate's own settings, e.g. {"difficulty": 3, "topic": "rag"}."""


class SessionRow(Base):
    __tablename__ = "interview_sessions"
    __table_args__ = (Index("ix_sessions_user_status_started", "user_id", "status", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    format: Mapped[str] = mapped_column(String(40))
    topics: Mapped[list[Any]]
    planned_questions: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="active")
    engine: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    score: Mapped[float | None] = mapped_column(Float)


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id"), index=True)
    seq: Mapped[int]
    question_id: Mapped[str] = mapped_column(String(80))
    question_version: Mapped[int] = mapped_column(Integer, default=1)
    topic: Mapped[str] = mapped_column(String(80))
    prompt: Mapped[str] = mapped_column(Text)
    follow_up_of: Mapped[int | None]
    probed_key_point: Mapped[str | None] = mapped_column(String(80))
    answer: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))
    hints: Mapped[list[Any]]
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    score: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[int | None]
    grader: Mapped[str | None] = mapped_column(String(80))
    grade: Mapped[dict[str, Any] | None]
    chosen_because: Mapped[str | None] = mapped_column(String(40))
    time_budget_s: Mapped[int | None]
    late: Mapped[bool] = mapped_column(default=False)
    guardrail_events: Mapped[list[Any] | None]
    code_runs: Mapped[list[Any] | None]
    self_rating: Mapped[int | None]
    """The candidate's own 1-3 rating of the answer, given before the grade."""
    hinted: Mapped[list[Any] | None]
    section: Mapped[str | None] = mapped_column(String(40))


class UsageRow(Base):
    """The cost ledger: one row per model call."""

    __tablename__ = "llm_usage"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(32), index=True)
    turn_seq: Mapped[int | None]
    model: Mapped[str] = mapped_column(String(80))
    purpose: Mapped[str] = mapped_column(String(40))
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    cache_read_tokens: Mapped[int]
    cache_write_tokens: Mapped[int]
    cost_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]


class TopicMasteryRow(Base):
    __tablename__ = "topic_mastery"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(80), primary_key=True)
    mastery: Mapped[float] = mapped_column(Float)
    evidence: Mapped[int]
    lapses: Mapped[int]
    updated_at: Mapped[datetime]


class ReviewCardRow(Base):
    """One spaced-repetition card per user and question (FSRS state as JSON)."""

    __tablename__ = "review_cards"
    __table_args__ = (Index("ix_review_cards_user_due", "user_id", "due"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    topic: Mapped[str] = mapped_column(String(80))
    card: Mapped[dict[str, Any]]
    due: Mapped[datetime]
    reviews: Mapped[int]
    lapses: Mapped[int]
    last_rating: Mapped[int]
    updated_at: Mapped[datetime]


class BudgetRow(Base):
    """Spend and reservations for one budget scope ("global:DAY", "user:NAME:DAY", "session:ID")."""

    __tablename__ = "budgets"

    scope: Mapped[str] = mapped_column(String(160), primary_key=True)
    limit_usd: Mapped[float] = mapped_column(Float)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime]


class BudgetReservationRow(Base):
    """One billed model request in flight: its worst-case cost is held in `scopes` until it is
    settled. `owner` names the process (host, boot, pid, start time) so a reservation left by a
    process that died can be told apart from a live one; past `expires_at` anyone may settle it."""

    __tablename__ = "budget_reservations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]]
    estimate_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ChatUpdateRow(Base):
    """The Telegram inbox: every update stored before it is acknowledged, handled once, in order per chat."""

    __tablename__ = "telegram_updates"
    __table_args__ = (Index("ix_telegram_updates_chat_pending", "chat_id", "handled_at", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]


class ChatLeaseRow(Base):
    """Which bot worker is draining a chat's inbox, until when (one drainer per chat across processes)."""

    __tablename__ = "telegram_chat_leases"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    worker: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None]


class SessionLockRow(Base):
    """Who may act on a session now: one row per held session, a lease renewed while held."""

    __tablename__ = "session_locks"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    """host:pid:nonce of the holding process, so a dead holder on this host is recognised."""
    expires_at: Mapped[float] = mapped_column(Float)
    """Unix time the lease lapses unless renewed."""
