"""The store: the interview's records over SQLAlchemy (SQLite by default, PostgreSQL by URL).

Writes are idempotent where a crash could make the service repeat them: turns are keyed by
(session, seq), so saving the same graded turns twice stores them once.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import Engine, Integer, String, bindparam, create_engine, event, func, insert, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from agent import memory
from agent.domain import CodeRun, Grade, GuardrailEvent, Turn, Usage
from agent.errors import ConfigError, NotFound
from agent.store import migrate
from agent.store.models import Base, ReviewCardRow, SessionRow, TopicMasteryRow, TurnRow, UsageRow, UserRow
from agent.store.pool import ping_when_idle


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: datetime | None) -> datetime | None: ...
def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def open_engine(url: str) -> Engine:
    """Create the engine and bring the schema to the newest migration."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a probe of its own: processes starting together must not unlink each other's
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-probe-"):
                pass
        except OSError as err:
            raise ConfigError(
                f"cannot write the database at {path} ({err.strerror}); "
                "set COACH_HOME to a writable directory or DATABASE_URL to another database"
            ) from None
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, the driver we ship
    # A server may drop a pooled connection: it is pinged when it sat idle (agent/store/pool.py),
    # not on every checkout, which cost a round trip per transaction. A SQLite file has no server.
    try:
        engine = create_engine(url)
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"DATABASE_URL needs the database driver {err.name!r}, which is not installed: "
            "pip install 'interview-coach[postgres]' (in a clone: pip install '.[postgres]')"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        ping_when_idle(engine)
    where = engine.url.render_as_string(hide_password=True)
    try:
        migrate.upgrade(engine)
    except OperationalError as err:
        raise ConfigError(f"cannot open the database {where}: {err.orig}; check DATABASE_URL") from None
    except DatabaseError as err:  # e.g. SQLite's "file is not a database"
        raise ConfigError(
            f"the database {where} cannot be read ({err.orig}); it is not a coach database: move the file "
            "aside (a new one is created) or point DATABASE_URL or COACH_HOME elsewhere"
        ) from None
    return engine


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._user_ids: dict[str, int] = {}  # a user's id never changes once created

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(open_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as db:
            yield db

    # --- users --------------------------------------------------------------------------------

    def user_id(self, name: str) -> int:
        if name in self._user_ids:
            return self._user_ids[name]
        try:
            with self._tx() as db:
                found = db.scalar(select(UserRow.id).where(UserRow.name == name))
                if found is None:
                    row = UserRow(name=name, created_at=utcnow())
                    db.add(row)
                    db.flush()
                    found = row.id
        except IntegrityError:  # another process created the user first
            with self._tx() as db:
                found = db.scalars(select(UserRow.id).where(UserRow.name == name)).one()
        self._user_ids[name] = found
        return found

    def preferences(self, user: str) -> dict[str, Any]:
        uid = self.user_id(user)
        with self._tx() as db:
            return dict(db.get_one(UserRow, uid).preferences or {})

    def set_preferences(self, user: str, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into the user's preferences; a None value removes that preference."""
        uid = self.user_id(user)
        with self._tx() as db:
            row = db.get_one(UserRow, uid)
            prefs = {**(row.preferences or {}), **changes}
            row.preferences = {k: v for k, v in prefs.items() if v is not None}
            return dict(row.preferences)

    # --- sessions -----------------------------------------------------------------------------

    def create_session(
        self, user: str, fmt: str, topics: list[str], planned: int, engine_name: str,
        session_id: str | None = None,
    ) -> str:
        """Record a started session; the service passes the id of the thread it checkpointed first."""
        uid = self.user_id(user)
        sid = session_id or new_session_id()
        with self._tx() as db:
            db.add(
                SessionRow(
                    id=sid,
                    user_id=uid,
                    format=fmt,
                    topics=topics,
                    planned_questions=planned,
                    status="active",
                    engine=engine_name,
                    started_at=utcnow(),
                )
            )
        return sid

    def restore_session(self, user: str, session_id: str, fmt: str, topics: list[str], planned: int,
                        engine_name: str, status: str, started_at: datetime, ended_at: datetime | None,
                        score: float | None) -> bool:
        """Recreate a session from a backup; False (and nothing written) if the id exists."""
        uid = self.user_id(user)
        with self._tx() as db:
            if db.get(SessionRow, session_id) is not None:
                return False
            db.add(SessionRow(id=session_id, user_id=uid, format=fmt, topics=topics, planned_questions=planned,
                              status=status, engine=engine_name, started_at=started_at, ended_at=ended_at,
                              score=score))
        return True

    def session(self, session_id: str, user: str) -> SessionRow:
        """The session if it belongs to `user`; another user's session is simply not found."""
        with self._tx() as db:
            row = db.scalar(
                select(SessionRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.id == session_id, UserRow.name == user)
            )
        if row is None:
            raise NotFound(f"no session {session_id!r} for user {user!r}; `coach sessions` lists yours")
        row.started_at = _aware(row.started_at)
        row.ended_at = _aware(row.ended_at)
        return row

    def session_owner(self, session_id: str) -> str | None:
        """The name of the user a session belongs to, or None when there is no such session."""
        with self._tx() as db:
            return db.scalar(select(UserRow.name).join(SessionRow, SessionRow.user_id == UserRow.id)
                             .where(SessionRow.id == session_id))

    def sessions_of(self, user: str, limit: int = 50) -> list[SessionRow]:
        """The user's sessions, newest first."""
        with self._tx() as db:
            rows = db.scalars(
                select(SessionRow).join(UserRow, UserRow.id == SessionRow.user_id)
                .where(UserRow.name == user).order_by(SessionRow.started_at.desc()).limit(limit)
            ).all()
        for row in rows:
            row.started_at = _aware(row.started_at)
            row.ended_at = _aware(row.ended_at)
        return list(rows)

    def latest_active_session(self, user: str) -> str | None:
        with self._tx() as db:
            return db.scalar(
                select(SessionRow.id)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(UserRow.name == user, SessionRow.status == "active")
                .order_by(SessionRow.started_at.desc())
                .limit(1)
            )

    def finish_session(self, session_id: str, score: float | None) -> None:
        with self._tx() as db:
            row = db.get(SessionRow, session_id)
            if row is not None and row.status != "finished":
                row.status = "finished"
                row.ended_at = utcnow()
                row.score = score

    # --- turns --------------------------------------------------------------------------------

    def record_turns(
        self, session_id: str, user: str, turns: list[Turn], price: Callable[[Usage], float]
    ) -> list[Turn]:
        """Store the turns not stored yet, their model usage and topic mastery, in one transaction.

        Returns the turns that were new. Safe to call again with the same turns after a crash.
        """
        uid = self.user_id(user)
        with self._tx() as db:
            have = set(db.scalars(_STORED_SEQS, {"sid": session_id}))
            new = [t for t in turns if t.seq not in have]
            if not new:
                return new
            # Plain inserts, not ORM objects: a turn is written once and never read back here,
            # and the unit of work's bookkeeping cost more than the statements themselves.
            db.execute(_ADD_TURNS, [_turn_values(session_id, t) for t in new])
            usage = [_usage_values(uid, session_id, t.seq, u, price(u)) for t in new for u in t.usage]
            if usage:
                db.execute(_ADD_USAGE, usage)
            for t in new:
                if t.grade is not None and t.follow_up_of is None:
                    _remember(db, uid, t)
                elif t.self_rating == 1:
                    _review_tomorrow(db, uid, t.question_id, t.answered_at or utcnow())
        return new

    def rate_turn(self, session_id: str, seq: int, rating: int) -> Turn | None:
        """Record the candidate's self-rating of an answered turn (None when there is no such turn).

        A rating of 1 brings the question back no later than the next day."""
        with self._tx() as db:
            row = db.scalar(select(TurnRow).where(TurnRow.session_id == session_id, TurnRow.seq == seq))
            if row is None or row.outcome != "answered":
                return None
            row.self_rating = rating
            session = db.get(SessionRow, session_id)
            if rating == 1 and session is not None:
                _review_tomorrow(db, session.user_id, row.question_id, _aware(row.answered_at) or utcnow())
            usage = list(db.scalars(select(UsageRow).where(UsageRow.session_id == session_id,
                                                           UsageRow.turn_seq == seq)))
            return _turn(row, usage)

    def replace_grade(self, session_id: str, user: str, seq: int, grade: Grade) -> None:
        """Put a reviewed grade on a stored turn and rebuild the memory it fed (the question's review
        card and the topic's mastery, replayed from every graded main answer in order), in one
        transaction, so memory reads as if the reviewed grade had been the first one."""
        uid = self.user_id(user)
        with self._tx() as db:
            row = db.scalars(select(TurnRow).where(TurnRow.session_id == session_id, TurnRow.seq == seq)).one()
            row.grade = grade.model_dump(mode="json")
            row.score, row.rating, row.grader = grade.score, grade.rating, grade.grader
            if row.follow_up_of is not None:
                return
            db.flush()
            # Every card of the topic goes too: a topic's lapses are counted from its cards' history.
            stale = [*db.scalars(select(ReviewCardRow).where(ReviewCardRow.user_id == uid,
                                                             (ReviewCardRow.topic == row.topic)
                                                             | (ReviewCardRow.question_id == row.question_id))),
                     db.get(TopicMasteryRow, (uid, row.topic))]
            for gone in stale:
                if gone is not None:
                    db.delete(gone)
            db.flush()
            history = db.scalars(
                select(TurnRow).join(SessionRow, SessionRow.id == TurnRow.session_id)
                .where(SessionRow.user_id == uid, TurnRow.follow_up_of.is_(None), TurnRow.grade.is_not(None),
                       (TurnRow.question_id == row.question_id) | (TurnRow.topic == row.topic))
                .order_by(TurnRow.answered_at, TurnRow.id)
            ).all()
            for past in history:
                turn = _turn(past, [])
                if turn.grade is not None:  # a JSON null passes `is_not(None)`
                    if turn.answered_at is not None:  # PostgreSQL answers in its own zone; FSRS wants UTC
                        turn.answered_at = turn.answered_at.astimezone(UTC)
                    _remember(db, uid, turn)
                    db.flush()

    def set_session_score(self, session_id: str, score: float | None) -> None:
        with self._tx() as db:
            row = db.get(SessionRow, session_id)
            if row is not None:
                row.score = score

    def turns(self, session_id: str) -> list[Turn]:
        with self._tx() as db:
            rows = db.scalars(
                select(TurnRow).where(TurnRow.session_id == session_id).order_by(TurnRow.seq)
            ).all()
            usage = db.scalars(select(UsageRow).where(UsageRow.session_id == session_id)).all()
        by_seq: dict[int, list[UsageRow]] = {}
        for u in usage:
            by_seq.setdefault(u.turn_seq or 0, []).append(u)
        return [_turn(r, by_seq.get(r.seq, [])) for r in rows]

    def turns_of(self, session_ids: list[str]) -> dict[str, list[Turn]]:
        """The turns of several sessions in two queries (a session list without N+1 loads)."""
        with self._tx() as db:
            rows = db.scalars(
                select(TurnRow).where(TurnRow.session_id.in_(session_ids)).order_by(TurnRow.session_id, TurnRow.seq)
            ).all()
            usage = db.scalars(select(UsageRow).where(UsageRow.session_id.in_(session_ids))).all()
        by_turn: dict[tuple[str | None, int], list[UsageRow]] = {}
        for u in usage:
            by_turn.setdefault((u.session_id, u.turn_seq or 0), []).append(u)
        out: dict[str, list[Turn]] = {sid: [] for sid in session_ids}
        for r in rows:
            out[r.session_id].append(_turn(r, by_turn.get((r.session_id, r.seq), [])))
        return out

    # --- usage ledger -------------------------------------------------------------------------

    def usage_by_day(self, user: str | None = None) -> list[tuple[str, str, int, int, int, float]]:
        """(day, user, calls, input tokens, output tokens, cost) from the ledger, newest day first."""
        day = func.substr(func.cast(UsageRow.created_at, String), 1, 10)
        query = (
            select(day, UserRow.name, func.count(), func.sum(UsageRow.input_tokens + UsageRow.cache_read_tokens
                                                             + UsageRow.cache_write_tokens),
                   func.sum(UsageRow.output_tokens), func.sum(UsageRow.cost_usd))
            .join(UserRow, UserRow.id == UsageRow.user_id)
            .group_by(day, UserRow.name)
            .order_by(day.desc(), UserRow.name)
        )
        if user is not None:
            query = query.where(UserRow.name == user)
        with self._tx() as db:
            return [tuple(r) for r in db.execute(query).all()]

    def usage(self, session_id: str) -> list[UsageRow]:
        with self._tx() as db:
            return list(db.scalars(select(UsageRow).where(UsageRow.session_id == session_id)))

    # --- memory ------------------------------------------------------------------------------

    def memory_of(self, user: str, now: datetime | None = None, due_limit: int = 50) -> memory.Memory:
        """Everything question selection needs about `user`: due reviews, seen questions, mastery."""
        uid = self.user_id(user)
        now = now or utcnow()
        with self._tx() as db:
            # One read of the user's cards gives both what is due and what was seen.
            cards = db.execute(_CARDS_OF_USER, {"uid": uid}).all()
            mastery = db.execute(_MASTERY_OF_USER, {"uid": uid}).all()
        due = sorted(dq for dq in ((_aware(d), q) for q, d in cards) if dq[0] <= now)[:due_limit]
        return memory.Memory(
            due=tuple(q for _d, q in due),
            seen=frozenset(q for q, _d in cards),
            mastery=tuple(memory.TopicMastery(*m) for m in mastery),
        )

    def missed_before(self, user: str, question_id: str) -> Counter[str]:
        """How often each key point of a question was missed in the user's earlier answers."""
        uid = self.user_id(user)
        with self._tx() as db:
            grades = db.scalars(_GRADES_OF_QUESTION, {"uid": uid, "qid": question_id}).all()
        # JSON columns keep Python None as JSON null, which `is_not(None)` lets through
        return Counter(v["key_point"] for g in grades if g for v in g["verdicts"] if v["verdict"] != "covered")

    def due_reviews(self, user: str, now: datetime | None = None) -> list[tuple[str, str, datetime]]:
        """(question id, topic, due) of every card due by `now`, most overdue first."""
        uid = self.user_id(user)
        with self._tx() as db:
            rows = db.execute(
                select(ReviewCardRow.question_id, ReviewCardRow.topic, ReviewCardRow.due)
                .where(ReviewCardRow.user_id == uid, ReviewCardRow.due <= (now or utcnow()))
                .order_by(ReviewCardRow.due)
            ).all()
        return [(q, t, _aware(d)) for q, t, d in rows]

    def review_dates(self, user: str, question_ids: list[str]) -> dict[str, datetime]:
        """When each of these questions' spaced-repetition review is due."""
        uid = self.user_id(user)
        with self._tx() as db:
            rows = db.execute(
                select(ReviewCardRow.question_id, ReviewCardRow.due)
                .where(ReviewCardRow.user_id == uid, ReviewCardRow.question_id.in_(question_ids))
            ).all()
        return {q: _aware(d) for q, d in rows}

    def upcoming_reviews(self, user: str, now: datetime | None = None, limit: int = 50) -> list[tuple[str, str, datetime]]:
        """(question id, topic, due) of questions last missed (rating 1-2) whose review is still ahead."""
        uid = self.user_id(user)
        with self._tx() as db:
            rows = db.execute(
                select(ReviewCardRow.question_id, ReviewCardRow.topic, ReviewCardRow.due)
                .where(ReviewCardRow.user_id == uid, ReviewCardRow.due > (now or utcnow()),
                       ReviewCardRow.last_rating <= 2)
                .order_by(ReviewCardRow.due)
                .limit(limit)
            ).all()
        return [(q, t, _aware(d)) for q, t, d in rows]

    def self_ratings(self, user: str) -> list[tuple[str, int, float]]:
        """(topic, self-rating, score) of every graded answer the candidate rated, oldest first."""
        uid = self.user_id(user)
        with self._tx() as db:
            rows = db.execute(
                select(TurnRow.topic, TurnRow.self_rating, TurnRow.score)
                .join(SessionRow, SessionRow.id == TurnRow.session_id)
                .where(SessionRow.user_id == uid, TurnRow.self_rating.is_not(None), TurnRow.score.is_not(None))
                .order_by(TurnRow.answered_at)
            ).all()
        return [(topic, rating, score) for topic, rating, score in rows if rating is not None and score is not None]

    def score_history(self, user: str) -> list[tuple[datetime, str, float]]:
        """(answered at, topic, score) of every graded main answer, oldest first."""
        uid = self.user_id(user)
        with self._tx() as db:
            rows = db.execute(
                select(TurnRow.answered_at, TurnRow.topic, TurnRow.score)
                .join(SessionRow, SessionRow.id == TurnRow.session_id)
                .where(SessionRow.user_id == uid, TurnRow.score.is_not(None), TurnRow.follow_up_of.is_(None))
                .order_by(TurnRow.answered_at)
            ).all()
        return [(_aware(at), topic, score) for at, topic, score in rows]  # type: ignore[misc]


# The per-answer statements, built once: SQLAlchemy caches their compiled form, and building a
# statement costs more than running it on SQLite (benchmarks/bench_turn.py profiles the turn).
_TURNS = Base.metadata.tables[TurnRow.__tablename__]
_USAGE = Base.metadata.tables[UsageRow.__tablename__]
_CARDS = Base.metadata.tables[ReviewCardRow.__tablename__]
_MASTERY = Base.metadata.tables[TopicMasteryRow.__tablename__]
_ADD_TURNS = insert(_TURNS)
_ADD_USAGE = insert(_USAGE)
_STORED_SEQS = select(TurnRow.seq).where(TurnRow.session_id == bindparam("sid"))
_CARDS_OF_USER = select(ReviewCardRow.question_id, ReviewCardRow.due).where(ReviewCardRow.user_id == bindparam("uid"))
_MASTERY_OF_USER = select(TopicMasteryRow.topic, TopicMasteryRow.mastery, TopicMasteryRow.evidence,
                          TopicMasteryRow.lapses).where(TopicMasteryRow.user_id == bindparam("uid"))
_GRADES_OF_QUESTION = (select(TurnRow.grade).join(SessionRow, SessionRow.id == TurnRow.session_id)
                       .where(SessionRow.user_id == bindparam("uid"), TurnRow.question_id == bindparam("qid"),
                              TurnRow.grade.is_not(None)))
_CARD_OF = select(ReviewCardRow.card, ReviewCardRow.last_rating).where(
    ReviewCardRow.user_id == bindparam("uid"), ReviewCardRow.question_id == bindparam("qid"))
_MASTERY_OF = select(TopicMasteryRow.mastery, TopicMasteryRow.evidence).where(
    TopicMasteryRow.user_id == bindparam("uid"), TopicMasteryRow.topic == bindparam("tid"))
_REVIEW_CARD = (update(_CARDS)
                .where(_CARDS.c.user_id == bindparam("uid"), _CARDS.c.question_id == bindparam("qid"))
                .values(reviews=_CARDS.c.reviews + 1, lapses=_CARDS.c.lapses + bindparam("lapsed", type_=Integer)))
_MOVE_MASTERY = (update(_MASTERY)
                 .where(_MASTERY.c.user_id == bindparam("uid"), _MASTERY.c.topic == bindparam("tid"))
                 .values(evidence=_MASTERY.c.evidence + 1, lapses=_MASTERY.c.lapses + bindparam("lapsed", type_=Integer)))


def _remember(db: Session, uid: int, turn: Turn) -> None:
    """Review the question's card with the grade's rating and move the topic's mastery."""
    assert turn.grade is not None
    at = (turn.answered_at or utcnow()).astimezone(UTC)  # PostgreSQL hands back its own UTC tzinfo; FSRS wants UTC
    rating, score = turn.grade.rating, turn.grade.score
    key = {"uid": uid, "qid": turn.question_id}
    before = db.execute(_CARD_OF, key).first()
    lapsed = int(bool(before and before.last_rating >= 3 and rating == 1))
    card = memory.review(before.card if before else None, rating, at)
    changes = {"card": card, "due": memory.due_at(card), "last_rating": rating, "updated_at": at}
    if before is None:
        db.execute(insert(_CARDS), {"user_id": uid, "question_id": turn.question_id, "topic": turn.topic,
                                    "reviews": 1, "lapses": 0, **changes})
    else:
        db.execute(_REVIEW_CARD, {**key, "lapsed": lapsed, **changes})
    if turn.self_rating == 1:
        _review_tomorrow(db, uid, turn.question_id, at)

    topic = {"uid": uid, "tid": turn.topic}
    before_topic = db.execute(_MASTERY_OF, topic).first()
    if before_topic is None:
        db.execute(insert(_MASTERY), {"user_id": uid, "topic": turn.topic, "mastery": score, "evidence": 1,
                                      "lapses": lapsed, "updated_at": at})
    else:
        mastery = memory.next_mastery(before_topic.mastery, before_topic.evidence, score)
        db.execute(_MOVE_MASTERY, {**topic, "lapsed": lapsed, "updated_at": at, "mastery": mastery})


def _review_tomorrow(db: Session, uid: int, question_id: str, at: datetime) -> None:
    """The candidate said they did not know it: the question comes back no later than tomorrow."""
    card_row = db.get(ReviewCardRow, (uid, question_id))
    if card_row is None:
        return
    tomorrow = at + memory.SELF_RATED_AGAIN
    if _aware(card_row.due) > tomorrow:
        card_row.due = tomorrow
        card_row.card = {**card_row.card, "due": tomorrow.isoformat()}


def _usage_values(uid: int, session_id: str, seq: int, u: Usage, cost: float) -> dict[str, Any]:
    return {
        "user_id": uid,
        "session_id": session_id,
        "turn_seq": seq,
        "model": u.model,
        "purpose": u.purpose,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "cost_usd": cost,
        "created_at": utcnow(),
    }


def _turn_values(session_id: str, t: Turn) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "seq": t.seq,
        "question_id": t.question_id,
        "question_version": t.question_version,
        "topic": t.topic,
        "prompt": t.prompt,
        "follow_up_of": t.follow_up_of,
        "probed_key_point": t.probed_key_point,
        "answer": t.answer,
        "outcome": t.outcome,
        "hints": list(t.hints),
        "asked_at": t.asked_at,
        "answered_at": t.answered_at,
        "score": t.grade.score if t.grade else None,
        "rating": t.grade.rating if t.grade else None,
        "grader": t.grade.grader if t.grade else None,
        "grade": t.grade.model_dump(mode="json") if t.grade else None,
        "chosen_because": t.chosen_because or None,
        "time_budget_s": t.time_budget_s,
        "late": t.late,
        "guardrail_events": [e.model_dump(mode="json") for e in t.guardrail_events],
        "code_runs": [r.model_dump(mode="json") for r in t.code_runs],
        "self_rating": t.self_rating,
        "hinted": list(t.hinted),
        "section": t.section,
    }


def _turn(r: TurnRow, usage: list[UsageRow]) -> Turn:
    return Turn(
        seq=r.seq,
        question_id=r.question_id,
        question_version=r.question_version,
        topic=r.topic,
        prompt=r.prompt,
        follow_up_of=r.follow_up_of,
        probed_key_point=r.probed_key_point,
        answer=r.answer,
        outcome=r.outcome,
        hints=list(r.hints or []),
        asked_at=_aware(r.asked_at),
        answered_at=_aware(r.answered_at),
        grade=Grade.model_validate(r.grade) if r.grade else None,
        chosen_because=r.chosen_because or "",
        time_budget_s=r.time_budget_s,
        late=bool(r.late),
        guardrail_events=[GuardrailEvent.model_validate(e) for e in r.guardrail_events or []],
        code_runs=[CodeRun.model_validate(c) for c in r.code_runs or []],
        self_rating=r.self_rating,
        hinted=list(r.hinted or []),
        section=r.section,
        usage=[
            Usage(
                model=u.model,
                purpose=u.purpose,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_read_tokens=u.cache_read_tokens,
                cache_write_tokens=u.cache_write_tokens,
            )
            for u in usage
        ],
    )
