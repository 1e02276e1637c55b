"""SessionService: the one API every front-end calls, and the composition root that wires it.

    async with SessionService.open(Settings(), offline=True) as coach:
        step = await coach.start("ada", topic="rag", questions=3)
        step = await coach.answer(step.session_id, "ada", "Retrieval grounds the model ...")

The service owns persistence. The graph keeps the live interview in its checkpointer; after
every action the service copies finished turns into the store in one idempotent transaction,
so a process killed at any point loses nothing that was graded, and the next process continues
the same thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from langgraph.errors import GraphRecursionError
from langgraph.types import Command
from pydantic import BaseModel, Field

from agent.checkpoint import open_checkpointer
from agent.config import Settings
from agent.domain import Prompt, SessionReport, Turn
from agent.errors import AnswerRejected, NotFound, SessionClosed
from agent.graph import STUCK, CodeRunnerPort, GraphDeps, build_graph
from agent.guardrails import CostGate, RateLimiter, check_answer, cost_usd
from agent.llm.factory import make_llm
from agent.llm.port import LLM
from agent.memory import WeakTopic, starting_difficulty, weak_topics
from agent.planner import DEFAULT_FORMAT, candidates, plan_slots
from agent.report import build_report
from agent.store.budget import BudgetLedger
from agent.store.repository import Store
from tools.bank import QuestionBank, require_format


log = logging.getLogger(__name__)


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


class DueReview(BaseModel):
    question_id: str
    topic: str
    due: datetime


class ScorePoint(BaseModel):
    at: datetime
    topic: str
    score: float


class SessionSummary(BaseModel):
    session_id: str
    format: str
    topics: list[str]
    questions: int
    status: str
    score: float | None
    started_at: datetime
    ended_at: datetime | None


class Progress(BaseModel):
    user: str
    weak_topics: list[WeakTopic]
    due: list[DueReview]
    history: list[ScorePoint]


class SessionService:
    def __init__(self, settings: Settings, store: Store, bank: QuestionBank, llm: LLM, checkpointer: Any,
                 runner: CodeRunnerPort | None = None) -> None:
        self.settings = settings
        self.store = store
        self.bank = bank
        self.llm = llm
        gate = CostGate(
            BudgetLedger(store.engine), settings.budgets, settings.prices,
            settings.interviewer_model, settings.grader_model, settings.max_output_tokens,
        )
        deps = GraphDeps(llm=llm, bank=bank, limits=settings.limits, memory_of=store.memory_of,
                         missed_before=store.missed_before, gate=gate, budgets=settings.budgets, runner=runner)
        self.graph = build_graph(deps).compile(
            checkpointer=checkpointer
        )
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._rate = RateLimiter(settings.limits.messages_per_minute)
        self._active: dict[str, str] = {}
        """session id -> owner, for sessions this process saw active (saves a query per action)."""
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
        bank: QuestionBank | None = None,
        runner: CodeRunnerPort | None = None,
    ) -> AsyncIterator[SessionService]:
        """Wire the service from settings: store, bank, model adapter, checkpointer."""
        llm = llm or make_llm(settings, offline)
        bank = bank or (QuestionBank.load(settings.bank_dir) if settings.bank_dir else QuestionBank.load())
        store = Store.open(settings.db_url)
        async with AsyncExitStack() as stack:
            stack.callback(store.close)
            checkpointer = await stack.enter_async_context(open_checkpointer(settings))
            if runner is None:
                from mcp_server.runner_client import McpCodeRunner  # the graph reaches the runner over MCP

                runner = McpCodeRunner(settings.runner_url, warm_workers=settings.runner_warm)
            yield cls(settings, store, bank, llm, checkpointer, runner)

    # --- the API ------------------------------------------------------------------------------

    async def start(
        self, user: str, topic: str | None = None, questions: int | None = None, fmt: str = DEFAULT_FORMAT
    ) -> Step:
        """Start an interview in format `fmt` (see tools/bank/formats.yaml), optionally on one topic."""
        limits = self.settings.limits
        interview_format = require_format(fmt)
        prefs = self.store.preferences(user)
        if topic is None and fmt == DEFAULT_FORMAT:
            topic = prefs.get("topic")
        if questions is None and fmt == DEFAULT_FORMAT:
            questions = limits.questions_per_session
        if questions is not None and not 1 <= questions <= limits.max_questions_per_session:
            raise AnswerRejected(f"ask for between 1 and {limits.max_questions_per_session} questions, not {questions}")
        topic = self.bank.require_topic(topic) if topic else None
        plan = plan_slots(interview_format, topic, questions)
        if not any(candidates(self.bank, slot) for slot in plan):
            where = f" on {topic}" if topic else ""
            raise NotFound(f"the question bank has nothing for a {interview_format.title.lower()}{where} yet; "
                           "try another format or topic")
        session_id = self.store.create_session(user, fmt, [topic] if topic else [], len(plan), self.llm.name)
        mastery = {m.topic: m.mastery for m in self.store.memory_of(user).mastery}
        state = {
            "session_id": session_id,
            "user": user,
            "plan": plan,
            "position": -1,
            "seq": 1,
            "phase": "ask",
            "difficulty": prefs.get("difficulty") or starting_difficulty(mastery.get(topic) if topic else None),
        }
        async with self._locks[session_id]:
            return await self._run(session_id, user, state)

    async def answer(self, session_id: str, user: str, text: str, key: str | None = None) -> Step:
        """Grade `text` as the answer to the waiting question. `key` makes a repeat a no-op."""
        answer = check_answer(text, self.settings.limits)
        self._rate.check(user)
        return await self._act(session_id, user, "answer", answer, key)

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
        async with self._locks[session_id]:
            snapshot = await self.graph.aget_state(self._config(session_id))
            values = snapshot.values
            self._persist(session_id, user, values)
            return self._step(session_id, user, values, graded=[])

    async def report(self, session_id: str, user: str) -> SessionReport:
        row = self.store.session(session_id, user)
        return build_report(row, user, self.store.turns(session_id))

    def preferences(self, user: str) -> dict:
        return self.store.preferences(user)

    def set_preferences(self, user: str, difficulty: int | None = None, topic: str | None = None,
                        clear_topic: bool = False) -> dict:
        """Starting difficulty (1-3) and a default topic for concept interviews."""
        changes: dict = {}
        if difficulty is not None:
            if difficulty not in (1, 2, 3):
                raise AnswerRejected("difficulty is 1 (easy), 2 (medium) or 3 (hard)")
            changes["difficulty"] = difficulty
        if topic is not None:
            changes["topic"] = self.bank.require_topic(topic)
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
        )

    def sessions(self, user: str) -> list[SessionSummary]:
        return [SessionSummary(session_id=r.id, format=r.format, topics=list(r.topics), questions=r.planned_questions,
                               status=r.status, score=r.score, started_at=r.started_at, ended_at=r.ended_at)
                for r in self.store.sessions_of(user)]

    def latest_active(self, user: str) -> str | None:
        return self.store.latest_active_session(user)

    # --- internals ----------------------------------------------------------------------------

    def _config(self, session_id: str) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": session_id},
            "recursion_limit": self.settings.limits.recursion_limit,
        }

    async def _act(self, session_id: str, user: str, kind: str, text: str = "", key: str | None = None) -> Step:
        if self._active.get(session_id) != user:
            row = self.store.session(session_id, user)  # NotFound for another user's session
            if row.status == "finished":
                raise SessionClosed(f"session {session_id} has ended; start a new one with `coach interview`")
            self._active[session_id] = user
        action = {"kind": kind, "text": text, "at": datetime.now(UTC).isoformat()}
        if key:
            action["key"] = key
        async with self._locks[session_id]:
            return await self._run(session_id, user, Command(resume=action))

    async def _run(self, session_id: str, user: str, graph_input: Any) -> Step:
        # durability="exit": one checkpoint per action, so an action lands whole or not at all.
        try:
            out = await self.graph.ainvoke(graph_input, self._config(session_id), version="v2", durability="exit")
        except GraphRecursionError:
            # The backstop behind the supervisor's own step cap. LangGraph saved the progress
            # so far; drive the thread on to the candidate's seat and say what happened.
            log.error("session %s: LangGraph recursion limit reached", session_id)
            out = await self.graph.ainvoke(None, self._config(session_id), version="v2", durability="exit")
            out.value["notice"] = STUCK
        values = out.value
        new = self._persist(session_id, user, values)
        return self._step(session_id, user, values, graded=[t for t in new if t.outcome != "ended"])

    def _persist(self, session_id: str, user: str, values: dict[str, Any]) -> list[Turn]:
        raw = values.get("turns", [])
        new: list[Turn] = []
        if len(raw) != self._stored_turns.get(session_id):
            turns = [Turn.model_validate(t) for t in raw]
            new = self.store.record_turns(session_id, user, turns, price=lambda u: cost_usd(u, self.settings.prices))
            self._stored_turns[session_id] = len(raw)
        if values.get("phase") == "done":
            self._stored_turns.pop(session_id, None)
            self._active.pop(session_id, None)
            report = build_report(self.store.session(session_id, user), user, self.store.turns(session_id))
            self.store.finish_session(session_id, report.score)
        return new

    def _step(self, session_id: str, user: str, values: dict[str, Any], graded: list[Turn]) -> Step:
        current = values.get("current")
        done = values.get("phase") == "done"
        step = Step(session_id=session_id, graded=graded, notice=_notice(values), finished=done,
                    duplicate=bool(values.get("duplicate")))
        if current and not done:
            step.prompt = Prompt(
                seq=current["seq"],
                question_id=current["question_id"],
                topic=current["topic"],
                kind=current["kind"],
                text=current["prompt"],
                is_follow_up=current.get("follow_up_of") is not None,
                number=current["number"],
                total=current["total"],
                time_budget_s=current.get("time_budget_s"),
                asked_at=current.get("asked_at"),
            )
            step.hints = list(current.get("hints", []))
        if done:
            step.report = build_report(self.store.session(session_id, user), user, self.store.turns(session_id))
        return step


def _notice(values: dict[str, Any]) -> str:
    """What the candidate should be told: the latest guardrail message of each kind, then the rest."""
    latest = {e["kind"]: e["message"] for e in values.get("events", [])}
    return " ".join(filter(None, [*latest.values(), values.get("notice", "")]))
