"""SessionService: the one API every front-end calls, and the composition root that wires it.

    async with SessionService.open(Settings(), offline=True) as coach:
        step = await coach.start("ada", topic="rag", questions=3)
        step = await coach.answer(step.session_id, "ada", "Retrieval grounds the model ...")

The service owns persistence. The graph keeps the live interview in its checkpointer; after
every action the service copies finished turns into the store in one idempotent transaction,
so a process killed at any point loses nothing that was graded, and the next process continues
the same thread. The checkpointer, the graph and the code runner are opened on first use, so
reading history (`sessions`, `transcript`, `export`) never pays for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from langgraph.errors import GraphRecursionError
from langgraph.types import Command
from pydantic import BaseModel, Field

from agent.catalog import BUNDLED, Catalog
from agent.catalog.validate import validate_bank
from agent.checkpoint import open_checkpointer
from agent.code_runner import open_code_runner, sandbox_runner
from agent.config import Limits, Settings
from agent.domain import (
    Challenge,
    Grade,
    InterviewFormat,
    KeyPointVerdict,
    Prompt,
    Question,
    RejectedVerdict,
    SessionReport,
    Turn,
)
from agent.errors import AnswerRejected, NotFound, SessionBusy, SessionClosed
from agent.grading.submission import extract_code
from agent.graph import STUCK, Action, ActionKind, CodeRunnerPort, GraphDeps, InterviewState, build_graph
from agent.guardrails import CostGate, RateLimiter, check_answer, check_code, check_tests, cost_usd
from agent.llm.factory import make_llm
from agent.llm.port import LLM, GradeRequest
from agent.memory import starting_difficulty, weak_topics
from agent.planner import DEFAULT_FORMAT, candidates, plan_slots
from agent.records import (
    Backup,
    Calibration,
    DueReview,
    Progress,
    ScorePoint,
    SessionFacts,
    SessionSummary,
    Transcript,
    TranscriptStep,
    build_report,
    build_transcript,
    calibration,
    score_band,
    session_score,
)
from agent.regrade import Regrade, regrade
from agent.review import review
from agent.store.budget import BudgetLedger
from agent.store.inbox import InboxUpdate, UpdateInbox
from agent.store.locks import SessionLocks
from agent.store.models import SessionRow
from agent.store.repository import Store, new_session_id
from tools.runner import RunResult

# What front-ends may use: the service, its verbs' result types, and two store-free helpers.
__all__ = [
    "Backup", "Calibration", "Challenge", "InboxUpdate", "Progress", "ReviewedGrade", "RunResult", "SessionService",
    "SessionSummary", "Step", "Transcript", "TranscriptStep", "UpdateInbox", "check_bank", "open_catalog", "score_band",
]

log = logging.getLogger(__name__)

_MAX_RENEWALS = 100
"""An action holds its session for at most this many thirds of a lease (100 minutes at 60 s)."""


class Step(BaseModel):
    """What a front-end renders after an action."""

    session_id: str
    graded: list[Turn] = Field(default_factory=list)
    """Turns this action finished (an answer graded, a question skipped)."""
    prompt: Prompt | None = None
    """What the candidate should answer next; None when the interview is over."""
    hints: list[str] = Field(default_factory=list)
    notice: str = ""
    finished: bool = False
    report: SessionReport | None = None
    duplicate: bool = False
    """The action repeated one already handled (same key) and was dropped; show nothing new."""


class ReviewedGrade(BaseModel):
    """What `review_grade` did: the grade now in effect and each verdict it could not accept."""

    session_id: str
    seq: int
    question_id: str
    applied: bool
    """False when no verdict was accepted: the grade and memory are unchanged."""
    grade: Grade
    accepted: list[str] = Field(default_factory=list)
    rejected: list[RejectedVerdict] = Field(default_factory=list)


class UsageDay(BaseModel):
    day: str
    user: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def open_catalog(settings: Settings) -> Catalog:
    """The question bank from settings (COACH_BANK_DIR or the bundled one), without a database."""
    return Catalog.load(settings.bank_dir)


def check_bank(settings: Settings, run_challenges: bool = True) -> list[str]:
    """Every problem in the bank (COACH_BANK_DIR or the bundled one); with `run_challenges`, each
    challenge's reference must pass and its naive wrong variant fail, in one warm sandbox."""
    directory = settings.bank_dir or BUNDLED
    if not run_challenges:
        return validate_bank(directory)
    runner = sandbox_runner(settings, warm_workers=1)
    try:
        return validate_bank(directory, runner)
    finally:
        runner.close()


def _facts(row: SessionRow, user: str) -> SessionFacts:
    return SessionFacts(session_id=row.id, user=user, format=row.format, topics=list(row.topics),
                        planned_questions=row.planned_questions, engine=row.engine, status=row.status,
                        started_at=row.started_at, ended_at=row.ended_at, score=row.score)


class SessionService:
    def __init__(self, settings: Settings, store: Store, catalog: Catalog, llm: LLM,
                 stack: AsyncExitStack, runner: CodeRunnerPort | None = None, checkpointer: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.llm = llm
        self._stack = stack
        self._runner = runner
        self._checkpointer = checkpointer
        self._graph: Any = None
        self._opening = asyncio.Lock()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        """In this process, actions on one session queue here before they ask the database."""
        self._leases = SessionLocks(store.engine, settings.limits.session_lease_s)
        """Across processes and machines, one holder per session (see agent/store/locks.py)."""
        stack.callback(self._leases.close)
        self._rate = RateLimiter(settings.limits.messages_per_minute)
        self._active: dict[str, str] = {}
        """session id -> owner, for sessions this process saw active (saves a query per action)."""
        self._inbox: UpdateInbox | None = None
        self._stored_turns: dict[str, int] = {}
        """Turns known to be in the store per session, so an action without new turns skips the
        store; empty after a restart, when the first action reconciles checkpoint and store."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        offline: bool | None = None,
        llm: LLM | None = None,
        catalog: Catalog | None = None,
        runner: CodeRunnerPort | None = None,
    ) -> AsyncIterator[SessionService]:
        """Wire the service from settings: store, catalog, model adapter (checkpointer and runner on first use)."""
        llm = llm or make_llm(settings, offline)
        catalog = catalog or Catalog.load(settings.bank_dir, cache_dir=settings.home_dir / "cache")
        store = Store.open(settings.db_url)
        async with AsyncExitStack() as stack:
            stack.callback(store.close)
            yield cls(settings, store, catalog, llm, stack, runner)

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    @property
    def engine(self) -> str:
        """Who interviews and grades: "offline" or the model id."""
        return self.llm.name

    # --- wiring on first use ------------------------------------------------------------------

    @property
    def inbox(self) -> UpdateInbox:
        """Chat updates stored before they are acknowledged (the Telegram front-end's inbox)."""
        if self._inbox is None:
            self._inbox = UpdateInbox(self.store.engine)
        return self._inbox

    @property
    def runner(self) -> CodeRunnerPort:
        """The code runner (in process, or the pool at COACH_RUNNER_URL), created on first use."""
        if self._runner is None:
            runner = open_code_runner(self.settings, self.catalog)
            self._stack.callback(runner.close)
            self._runner = runner
        return self._runner

    async def _interview_graph(self) -> Any:
        async with self._opening:
            if self._graph is None:
                if self._checkpointer is None:
                    self._checkpointer = await self._stack.enter_async_context(open_checkpointer(self.settings))
                s = self.settings
                gate = CostGate(BudgetLedger(self.store.engine), s.budgets, s.prices, s.interviewer_model,
                                s.grader_model, s.max_output_tokens)
                deps = GraphDeps(llm=self.llm, catalog=self.catalog, limits=s.limits, memory_of=self.store.memory_of,
                                 missed_before=self.store.missed_before, gate=gate, budgets=s.budgets,
                                 runner=_LazyRunner(self))
                self._graph = build_graph(deps).compile(checkpointer=self._checkpointer)
        return self._graph

    # --- the interview ------------------------------------------------------------------------

    async def start(
        self, user: str, topic: str | None = None, questions: int | None = None, fmt: str = DEFAULT_FORMAT
    ) -> Step:
        """Start an interview in format `fmt` (see the catalog's formats.yaml), optionally on one topic."""
        limits = self.settings.limits
        interview_format = self.catalog.format(fmt)
        prefs = self.store.preferences(user)
        if topic is None and fmt == DEFAULT_FORMAT:
            topic = prefs.get("topic")
        if questions is None and fmt == DEFAULT_FORMAT:
            questions = limits.questions_per_session
        if questions is not None and not 1 <= questions <= limits.max_questions_per_session:
            raise AnswerRejected(f"ask for between 1 and {limits.max_questions_per_session} questions, not {questions}")
        topic = self.catalog.require_topic(topic) if topic else None
        plan = plan_slots(interview_format, topic, questions)
        if not any(candidates(self.catalog, slot) for slot in plan):
            where = f" on {topic}" if topic else ""
            raise NotFound(f"the question bank has nothing for a {interview_format.title.lower()}{where} yet; "
                           "try another format or topic")
        graph = await self._interview_graph()
        session_id = new_session_id()
        mastery = {m.topic: m.mastery for m in self.store.memory_of(user).mastery}
        state: InterviewState = {
            "session_id": session_id,
            "user": user,
            "plan": plan,
            "position": -1,
            "seq": 1,
            "phase": "ask",
            "difficulty": prefs.get("difficulty") or starting_difficulty(mastery.get(topic) if topic else None),
        }
        def record_session() -> None:
            # Only once the first checkpoint exists: a session row always has a thread to resume.
            self.store.create_session(user, fmt, [topic] if topic else [], len(plan), self.llm.name,
                                      session_id=session_id)
            self._active[session_id] = user

        async with self._hold(session_id):
            return await self._run(graph, session_id, user, state, on_checkpoint=record_session)

    async def answer(self, session_id: str, user: str, text: str, key: str | None = None,
                     confidence: int | None = None) -> Step:
        """Grade `text` as the answer to the waiting question. `key` makes a repeat a no-op;
        `confidence` is the candidate's self-rating (1 didn't know, 2 partly, 3 clear and complete)."""
        answer = check_answer(text, self.settings.limits)
        _check_confidence(confidence)
        self._rate.check(user)
        return await self._act(session_id, user, "answer", answer, key, confidence)

    async def rate(self, session_id: str, user: str, seq: int, confidence: int) -> Turn:
        """Record a self-rating for an answer already graded (a front-end that asks after sending
        the answer, before showing the grade). A rating of 1 brings the question back tomorrow."""
        _check_confidence(confidence)
        self.store.session(session_id, user)  # NotFound for another user's session
        turn = self.store.rate_turn(session_id, seq, confidence)
        if turn is None:
            raise NotFound(f"session {session_id} has no answered question #{seq} to rate")
        return turn

    async def hint(self, session_id: str, user: str, key: str | None = None) -> Step:
        self._rate.check(user)
        return await self._act(session_id, user, "hint", key=key)

    async def skip(self, session_id: str, user: str, key: str | None = None) -> Step:
        return await self._act(session_id, user, "skip", key=key)

    async def end(self, session_id: str, user: str, key: str | None = None) -> Step:
        return await self._act(session_id, user, "end", key=key)

    async def resume(self, session_id: str, user: str) -> Step:
        """Where an unfinished session stands: its turns so far and the question waiting."""
        self.store.session(session_id, user)
        graph = await self._interview_graph()
        async with self._hold(session_id):
            snapshot = await graph.aget_state(self._config(session_id))
            values = snapshot.values
            closed = self._repair_thread(session_id, user, values, "resume")
            if closed is not None:
                return closed
            self._persist(session_id, user, values)
            return self._step(session_id, user, values, graded=[])

    async def review_grade(self, session_id: str, user: str, verdicts: list[KeyPointVerdict], reviewer: str,
                           seq: int | None = None) -> ReviewedGrade:
        """A second grader's per-key-point verdicts on a graded answer (the latest, or turn `seq`).
        Each covered/partial verdict is accepted only when its evidence is in the answer; the
        reviewed grade replaces the stored one (the one it replaced kept in `grade.review.before`),
        and the question's review card, the topic's mastery and the session score follow it."""
        if not verdicts:
            raise AnswerRejected("send at least one verdict: {key_point, verdict, evidence}")
        self.store.session(session_id, user)  # NotFound for another user's session
        async with self._hold(session_id):  # one writer across processes, as for answers
            turns = self.store.turns(session_id)
            graded = [t for t in turns if t.grade is not None and t.outcome == "answered"]
            if seq is not None:
                graded = [t for t in graded if t.seq == seq]
            if not graded:
                which = f"turn {seq}" if seq is not None else "this session"
                raise NotFound(f"{which} has no graded answer yet: answer a question first")
            turn = graded[-1]
            try:
                question: Question | None = self.catalog.question(turn.question_id)
            except NotFound:  # retired from the bank since: every key point weighs the same
                question = None
            grade = review(turn, question, verdicts, reviewer, datetime.now(UTC))
            assert grade.review is not None
            applied = bool(grade.review.accepted)
            if applied:
                self.store.replace_grade(session_id, user, turn.seq, grade)
                if self.store.session(session_id, user).status == "finished":
                    self.store.set_session_score(session_id, session_score(self.store.turns(session_id)))
            return ReviewedGrade(session_id=session_id, seq=turn.seq, question_id=turn.question_id, applied=applied,
                                 grade=grade if applied else turn.grade or grade, accepted=grade.review.accepted,
                                 rejected=grade.review.rejected)

    def latest_active(self, user: str) -> str | None:
        return self.store.latest_active_session(user)

    # --- code ---------------------------------------------------------------------------------

    async def run_code(self, code: str, challenge_id: str | None = None, tests: str | None = None,
                       entry_point: str | None = None) -> RunResult:
        """Run code in the sandbox against a challenge's hidden cases or assert-style test code."""
        if (challenge_id is None) == (tests is None):
            raise AnswerRejected("pass exactly one of challenge_id and tests")
        source = check_code(extract_code(code), self.settings.limits)  # a ```python fence is fine
        if challenge_id is not None:
            return await self.runner.run_challenge(source, self.catalog.challenge(challenge_id).id)
        assert tests is not None
        return await self.runner.run_tests(source, check_tests(tests, self.settings.limits), entry_point)

    def challenge(self, challenge_id: str) -> Challenge:
        return self.catalog.challenge(challenge_id)

    def challenges(self) -> dict[str, Challenge]:
        return self.catalog.challenges

    def topics(self) -> dict[str, int]:
        return self.catalog.topics()

    def formats(self) -> dict[str, InterviewFormat]:
        return self.catalog.formats

    # --- history ------------------------------------------------------------------------------

    async def report(self, session_id: str, user: str) -> SessionReport:
        row = self.store.session(session_id, user)
        return self._with_review_dates(build_report(_facts(row, user), self.store.turns(session_id)))

    def transcript(self, session_id: str, user: str) -> Transcript:
        """The session's transcript; another user's session is NotFound, as everywhere."""
        row = self.store.session(session_id, user)
        return build_transcript(_facts(row, user), self.store.turns(session_id), self.settings.prices)

    def session_owner(self, session_id: str) -> str | None:
        """Who a session belongs to. For the local terminal only, where every user's history is in
        the operator's own files; shared front-ends (Telegram, MCP) take the user from their own
        configuration and never look a session up across users."""
        return self.store.session_owner(session_id)

    def sessions(self, user: str, limit: int = 50) -> list[SessionSummary]:
        """The user's sessions, newest first, with score and cost (turns loaded in one go)."""
        rows = self.store.sessions_of(user, limit=limit)
        turns = self.store.turns_of([r.id for r in rows])
        summaries = []
        for r in rows:
            t = turns[r.id]
            score = r.score if r.score is not None else session_score(t)
            cost = sum(cost_usd(u, self.settings.prices) for turn in t for u in turn.usage)
            summaries.append(SessionSummary(
                session_id=r.id, format=r.format, topics=list(r.topics), questions=r.planned_questions,
                status=r.status, score=score, started_at=r.started_at, ended_at=r.ended_at, cost_usd=round(cost, 6),
                answered=sum(1 for turn in t if turn.outcome == "answered" and turn.answer)))
        return summaries

    def export(self, user: str) -> Backup:
        """Every session of `user` as transcripts, oldest first."""
        rows = sorted(self.store.sessions_of(user, limit=100_000), key=lambda r: r.started_at)
        turns = self.store.turns_of([r.id for r in rows])
        return Backup(user=user, transcripts=[build_transcript(_facts(r, user), turns[r.id], self.settings.prices)
                                              for r in rows])

    def import_backup(self, backup: Backup) -> tuple[int, int]:
        """(sessions restored, sessions skipped because they already exist). Memory is rebuilt too."""
        restored = skipped = 0
        for t in backup.transcripts:
            created = self.store.restore_session(backup.user, t.session_id, t.format, t.topics, t.planned_questions,
                                                 t.engine, t.status, t.started_at, t.ended_at, t.score)
            if not created:
                skipped += 1
                continue
            self.store.record_turns(t.session_id, backup.user, [s.turn for s in t.steps], price=self._price)
            restored += 1
        return restored, skipped

    async def regrade(self, session_id: str, user: str) -> list[Regrade]:
        """Re-grade every answered spoken turn with today's grader, old and new side by side."""
        async def grade(request: GradeRequest) -> Grade:
            return (await self.llm.grade(request)).value

        return await regrade(self.transcript(session_id, user), self.catalog, grade)

    def usage(self, user: str | None = None) -> list[UsageDay]:
        """Model spend by day and user, from the cost ledger, newest day first."""
        return [UsageDay(day=d, user=u, calls=c, input_tokens=i, output_tokens=o, cost_usd=cost)
                for d, u, c, i, o, cost in self.store.usage_by_day(user)]

    # --- the candidate ------------------------------------------------------------------------

    def preferences(self, user: str) -> dict[str, Any]:
        return self.store.preferences(user)

    def set_preferences(self, user: str, difficulty: int | None = None, topic: str | None = None,
                        clear_topic: bool = False, self_rate: bool | None = None) -> dict[str, Any]:
        """Starting difficulty (1-3), a default topic for concept interviews, and whether the
        candidate rates each answer 1-3 before its grade (`self_rate`)."""
        changes: dict[str, Any] = {}
        if self_rate is not None:
            changes["self_rate"] = self_rate
        if difficulty is not None:
            if difficulty not in (1, 2, 3):
                raise AnswerRejected("difficulty is 1 (easy), 2 (medium) or 3 (hard)")
            changes["difficulty"] = difficulty
        if topic is not None:
            changes["topic"] = self.catalog.require_topic(topic)
        if clear_topic:
            changes["topic"] = None
        return self.store.set_preferences(user, **changes)

    def progress(self, user: str) -> Progress:
        """Weak topics with reasons, reviews due now, and every graded score over time."""
        memory = self.store.memory_of(user)
        due = self.store.due_reviews(user)
        return Progress(
            user=user,
            weak_topics=weak_topics(memory.mastery, Counter(topic for _q, topic, _d in due)),
            due=[DueReview(question_id=q, topic=t, due=d) for q, t, d in due],
            history=[ScorePoint(at=at, topic=topic, score=score) for at, topic, score in self.store.score_history(user)],
            upcoming=[DueReview(question_id=q, topic=t, due=d) for q, t, d in self.store.upcoming_reviews(user)],
            calibration=calibration(self.store.self_ratings(user)),
        )

    # --- internals ----------------------------------------------------------------------------

    def _price(self, usage: Any) -> float:
        return cost_usd(usage, self.settings.prices)

    def _repair_thread(self, session_id: str, user: str, values: dict[str, Any], kind: str) -> Step | None:
        """Close a session whose thread cannot continue, keeping every answer the store holds.

        Two kinds: a thread checkpointed before the state was typed (plain dicts), and a session
        with no thread at all (an older version killed between saving the session and its first
        checkpoint, or an unfinished session imported from a backup). Resuming or ending such a
        session returns its report with a notice; answering it says why it cannot be answered.
        Returns None when the thread is sound."""
        if "user" in values and not isinstance(values.get("current"), dict):
            return None
        legacy = "user" in values
        was_active = self.store.session(session_id, user).status != "finished"
        turns = self.store.turns(session_id)
        self.store.finish_session(session_id, session_score(turns))
        self._active.pop(session_id, None)
        self._stored_turns.pop(session_id, None)
        if legacy:
            why = f"session {session_id} was started by an older version of the coach"
        else:
            why = (f"session {session_id} has no saved interview state (it was interrupted while starting, "
                   "or restored from a backup)")
        if was_active:
            log.info("session %s: closed, its thread cannot continue (%s)", session_id,
                     "older version" if legacy else "no checkpoint")
        notice = (f"{why}, so it is closed with the {len(turns)} turn(s) it has saved (`coach sessions`). "
                  "Start a new one with `coach interview`") if was_active else ""
        if kind in ("resume", "end"):
            return self._step(session_id, user, {"phase": "done", "notice": notice}, graded=[])
        if legacy:
            raise SessionClosed(f"session {session_id} was started by an older version of the coach; its graded "
                                "answers are saved (`coach sessions`). Start a new one with `coach interview`")
        raise SessionClosed(notice or f"session {session_id} has ended; start a new one with `coach interview`")

    @asynccontextmanager
    async def _hold(self, session_id: str) -> AsyncIterator[None]:
        """Be the session's one writer, in this process and across processes, for one action:
        read checkpoint -> graph step -> store. Waits up to `session_busy_wait_s`, then SessionBusy."""
        loop = asyncio.get_running_loop()
        wait = self.settings.limits.session_busy_wait_s
        deadline = loop.time() + wait
        local = self._locks[session_id]
        if local.locked():  # another action of this process first
            try:
                await asyncio.wait_for(local.acquire(), timeout=max(wait, 0.001))
            except TimeoutError:
                raise SessionBusy(session_id) from None
        else:
            await local.acquire()
        try:
            delay = 0.02
            while not self._leases.try_take(session_id):  # bounded: the deadline below ends it
                left = deadline - loop.time()
                if left <= 0:
                    raise SessionBusy(session_id)
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, 0.25)
            renewal = _LeaseRenewal(self._leases, session_id, loop)
            try:
                yield
            finally:
                renewal.stop()
                self._leases.release(session_id)
        finally:
            local.release()

    def _config(self, session_id: str) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": session_id},
            "recursion_limit": self.settings.limits.recursion_limit,
        }

    async def _act(self, session_id: str, user: str, kind: ActionKind, text: str = "", key: str | None = None,
                   confidence: int | None = None) -> Step:
        graph = await self._interview_graph()
        if self._active.get(session_id) != user:
            row = self.store.session(session_id, user)  # NotFound for another user's session
            if row.status == "finished":
                raise SessionClosed(f"session {session_id} has ended; start a new one with `coach interview`")
        action = Action(kind=kind, text=text, at=datetime.now(UTC), key=key, confidence=confidence)
        async with self._hold(session_id):
            if self._active.get(session_id) != user:
                snapshot = await graph.aget_state(self._config(session_id))
                closed = self._repair_thread(session_id, user, snapshot.values, kind)
                if closed is not None:
                    return closed
                self._active[session_id] = user
            return await self._run(graph, session_id, user, Command(resume=action))

    async def _run(self, graph: Any, session_id: str, user: str, graph_input: Any,
                   on_checkpoint: Callable[[], None] | None = None) -> Step:
        # durability="exit": one checkpoint per action, so an action lands whole or not at all.
        try:
            out = await graph.ainvoke(graph_input, self._config(session_id), version="v2", durability="exit")
        except GraphRecursionError:
            # The backstop behind the supervisor's own step cap. LangGraph saved the progress
            # so far; drive the thread on to the candidate's seat and say what happened.
            log.error("session %s: LangGraph recursion limit reached", session_id)
            out = await graph.ainvoke(None, self._config(session_id), version="v2", durability="exit")
            out.value["notice"] = STUCK
        if on_checkpoint is not None:
            on_checkpoint()
        values = out.value
        new = self._persist(session_id, user, values)
        return self._step(session_id, user, values, graded=[t for t in new if t.outcome != "ended"])

    def _persist(self, session_id: str, user: str, values: dict[str, Any]) -> list[Turn]:
        turns: list[Turn] = values.get("turns", [])
        new: list[Turn] = []
        if len(turns) != self._stored_turns.get(session_id):
            new = self.store.record_turns(session_id, user, turns, price=self._price)
            self._stored_turns[session_id] = len(turns)
        if values.get("phase") == "done":
            self._stored_turns.pop(session_id, None)
            self._active.pop(session_id, None)
            self.store.finish_session(session_id, session_score(self.store.turns(session_id)))
        return new

    def _step(self, session_id: str, user: str, values: dict[str, Any], graded: list[Turn]) -> Step:
        current = values.get("current")
        done = values.get("phase") == "done"
        step = Step(session_id=session_id, graded=graded, notice=_notice(values), finished=done,
                    duplicate=bool(values.get("duplicate")))
        if current and not done:
            step.prompt = current.as_prompt()
            step.hints = list(current.hints)
        if done:
            row = self.store.session(session_id, user)
            step.report = self._with_review_dates(build_report(_facts(row, user), self.store.turns(session_id)))
        return step

    def _with_review_dates(self, report: SessionReport) -> SessionReport:
        """Each question to review gets `next_review`: the date its spaced-repetition card is due."""
        dates = self.store.review_dates(report.user, [item["question_id"] for item in report.to_review])
        for item in report.to_review:
            if item["question_id"] in dates:
                item["next_review"] = dates[item["question_id"]].isoformat(timespec="minutes")
        return report


class _LeaseRenewal:
    """Renews a held lease every third of its length while a long action (a model call, a code
    run) holds it; at most `_MAX_RENEWALS` times, so a stuck action cannot hold a session forever."""

    def __init__(self, leases: SessionLocks, session_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self._leases, self._session_id, self._loop = leases, session_id, loop
        self._left = _MAX_RENEWALS
        self._timer = loop.call_later(leases.lease_s / 3, self._renew)

    def _renew(self) -> None:
        if not self._leases.renew(self._session_id):
            log.error("session %s: lost its lock after %.0f s without renewal", self._session_id,
                      self._leases.lease_s)
            return
        self._left -= 1
        if self._left > 0:
            self._timer = self._loop.call_later(self._leases.lease_s / 3, self._renew)

    def stop(self) -> None:
        self._timer.cancel()


class _LazyRunner:
    """The graph's runner port, resolved on the first coding answer (most interviews have none)."""

    def __init__(self, service: SessionService) -> None:
        self._service = service

    async def run_challenge(self, code: str, challenge_id: str) -> RunResult:
        return await self._service.runner.run_challenge(code, challenge_id)

    async def run_tests(self, code: str, tests: str, entry_point: str | None = None) -> RunResult:
        return await self._service.runner.run_tests(code, tests, entry_point)


def _check_confidence(confidence: int | None) -> None:
    if confidence is not None and confidence not in (1, 2, 3):
        raise AnswerRejected("rate how sure you are with 1 (didn't know), 2 (partly) or 3 (clear and complete)")


def _notice(values: dict[str, Any]) -> str:
    """What the candidate should be told: the latest guardrail message of each kind, then the rest."""
    latest = {e.kind: e.message for e in values.get("events", [])}
    return " ".join(filter(None, [*latest.values(), values.get("notice", "")]))
