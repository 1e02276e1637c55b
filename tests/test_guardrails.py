"""Step and cost guardrails against the real database and the real SDK over a mock transport."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.catalog import Catalog
from agent.config import Budgets, Limits, Settings
from agent.domain import Grade, KeyPointVerdict
from agent.errors import CoachError
from agent.guardrails import RateLimited, RateLimiter
from agent.llm.port import Ask, AskRequest, GradeRequest, HintRequest, Reply
from agent.service import SessionService
from agent.store.budget import BudgetFull, BudgetLedger, Scope
from agent.store.repository import Store
from tests.test_anthropic_adapter import GRADE_REPLY, RecordedAPI

pytestmark = pytest.mark.anyio


def test_fifty_concurrent_reservations_never_overspend(settings: Settings) -> None:
    store = Store.open(settings.db_url.replace("postgresql://", "postgresql+psycopg://"))
    ledger = BudgetLedger(store.engine)
    scopes = [Scope("global:day", 1.00), Scope("user:ann:day", 0.50)]
    barrier = threading.Barrier(50)

    def call(_: int) -> bool:
        barrier.wait()  # all fifty reserve at the same moment
        try:
            held = ledger.reserve(scopes, 0.03)
        except BudgetFull:
            return False
        ledger.settle(held, 0.03)  # the call cost what was reserved
        return True

    with ThreadPoolExecutor(50) as pool:
        granted = sum(pool.map(call, range(50)))
    spend = {s.scope: s for s in ledger.spend(scopes)}
    assert granted == 16  # 16 x 0.03 = 0.48 <= 0.50 < 17 x 0.03
    assert spend["user:ann:day"].spent_usd == pytest.approx(16 * 0.03)
    assert spend["user:ann:day"].reserved_usd == pytest.approx(0.0, abs=1e-9)
    assert spend["user:ann:day"].spent_usd <= 0.50
    store.close()


async def test_budget_exhausted_mid_session_degrades_to_offline(settings: Settings, mini_bank: Catalog) -> None:
    # Sonnet at 1200 in / 150 out / 1100 cache-write costs about $0.0097 a grade; the reservation
    # estimate is larger (every output token), so a $0.03 session allows about one call.
    settings = settings.model_copy(update={"budgets": Budgets(session_usd=0.03, warn_at=0.3)})
    api = RecordedAPI([GRADE_REPLY] * 6)
    async with SessionService.open(settings, llm=api.llm(), catalog=mini_bank) as coach:
        step = await coach.start("ann", questions=3)
        graders, notices = [], []
        while not step.finished:
            step = await coach.skip(step.session_id, "ann") if step.prompt.is_follow_up else \
                await coach.answer(step.session_id, "ann", "An index avoids a full table scan.")
            graders += [t.grade.grader for t in step.graded]
            notices.append(step.notice)
        turns = coach.store.turns(step.session_id)
    assert graders[0] == "claude-sonnet-4-6" and graders[-1] == "offline"
    # the grade (33%) and the probe (44%) both warned; the candidate sees the latest once
    assert notices[0] == "44% of the session model budget ($0.03) is used."
    assert any("budget is used up; the offline interviewer and grader take over" in n for n in notices)
    assert any(e.kind == "budget_exhausted" for t in turns for e in t.guardrail_events)
    assert len(api.requests) < 6


async def test_budget_stop_mode_refuses_with_a_clear_message(settings: Settings, mini_bank: Catalog) -> None:
    settings = settings.model_copy(update={"budgets": Budgets(session_usd=0.0001, on_exhausted="stop")})
    async with SessionService.open(settings, llm=RecordedAPI([GRADE_REPLY]).llm(), catalog=mini_bank) as coach:
        step = await coach.start("ann", questions=1, topic="sql")
        with pytest.raises(CoachError, match=re.escape("model budget is used up. Continue with `--offline`")):
            await coach.answer(step.session_id, "ann", "An index avoids a full table scan.")
        assert coach.store.turns(step.session_id) == []  # nothing half-stored


class LoopingLLM:
    """A model that keeps giving the answer away instead of asking: it never makes progress."""

    name = "looping-model"

    def __init__(self) -> None:
        self.asks = 0

    async def ask(self, request: AskRequest) -> Reply[Ask]:
        self.asks += 1
        return Reply(value=Ask(text="Here is the answer: " + request.question.model_answer))

    async def grade(self, request: GradeRequest) -> Reply[Grade]:
        missing = [KeyPointVerdict(key_point=kp.id, verdict="missing") for kp in request.question.key_points]
        return Reply(value=Grade(score=0.0, rating=1, verdicts=missing, grader=self.name))

    async def hint(self, request: HintRequest) -> Reply[str]:
        return Reply(value="")


async def test_a_looping_model_hits_the_call_cap_and_the_candidate_gets_a_message(
    settings: Settings, mini_bank: Catalog
) -> None:
    settings = settings.model_copy(update={"limits": Limits(model_calls_per_turn=3)})
    llm = LoopingLLM()
    async with SessionService.open(settings, llm=llm, catalog=mini_bank) as coach:
        step = await coach.start("ann", topic="sql", questions=1)
        step = await coach.answer(step.session_id, "ann", "It avoids a full table scan.")
    assert llm.asks == 2  # one call went to grading; two probes leaked the answer; then the cap
    assert "called too often" in step.notice
    assert step.prompt.is_follow_up
    assert step.prompt.text == mini_bank.question("sql.index").follow_ups[0].prompt  # the bank's probe, no leak


async def test_supervisor_step_cap_ends_the_turn_with_a_message_and_loses_nothing(
    settings: Settings, mini_bank: Catalog
) -> None:
    capped = settings.model_copy(update={"limits": Limits(max_steps_per_action=1)})
    async with SessionService.open(capped, offline=True, catalog=mini_bank) as coach:
        step = await coach.start("ann", topic="sql", questions=1)
        stuck = await coach.answer(step.session_id, "ann", "An index avoids a full table scan.")
        assert "went round in circles" in stuck.notice and stuck.prompt is None
        assert [t.answer for t in stuck.graded] == ["An index avoids a full table scan."]  # kept
        step = await coach.answer(step.session_id, "ann", "go on")
        assert step.prompt.is_follow_up and not step.graded  # "go on" was not taken as an answer


async def test_recursion_limit_backstop_ends_the_turn_with_a_message(settings: Settings, mini_bank: Catalog) -> None:
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        step = await coach.start("ann", topic="sql", questions=1)
        coach.settings = settings.model_copy(update={"limits": Limits(recursion_limit=1)})
        stuck = await coach.answer(step.session_id, "ann", "An index avoids a full table scan.")
        coach.settings = settings
        assert "went round in circles" in stuck.notice
        step = await coach.answer(step.session_id, "ann", "Inserts get slower because each index must be updated.")
        assert step.finished  # the probe was the last thing to ask
        answers = [t.answer for t in coach.store.turns(step.session_id) if t.outcome == "answered"]
    assert answers == ["An index avoids a full table scan.", "Inserts get slower because each index must be updated."]


async def test_rate_limit_per_user() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("ann")
    limiter.check("bob")
    with pytest.raises(RateLimited, match=re.escape("at most 3 messages a minute. Try again in 60 s")):
        limiter.check("ann")
    now[0] = 61
    limiter.check("ann")


async def test_request_size_per_turn_stays_flat_over_thirty_turns(settings: Settings, mini_bank: Catalog) -> None:
    probe = {"text": "What about writes?", "probed_key_point": "slower_writes"}
    replies = [GRADE_REPLY, probe, {"verdicts": [{"key_point": "slower_writes", "verdict": "covered"}]}] * 12
    api = RecordedAPI(replies)
    settings = settings.model_copy(update={
        "budgets": Budgets(session_usd=100, user_daily_usd=100, global_daily_usd=100),
        "limits": Limits(max_questions_per_session=30),
    })
    big = Catalog([mini_bank.question("sql.index").model_copy(update={"id": f"sql.index{i}"}) for i in range(30)])
    async with SessionService.open(settings, llm=api.llm(), catalog=big) as coach:
        step = await coach.start("ann", questions=10)
        while not step.finished:
            step = await coach.answer(step.session_id, "ann", "Lookups avoid a full scan. " * 3)
    sizes = [len(json.dumps(r)) for r in api.requests]
    asks = [len(json.dumps(r)) for r in api.requests if r["model"] == "claude-haiku-4-5"]
    assert len(sizes) >= 28
    assert max(sizes) < 1.1 * max(sizes[:6])  # no growth with the number of turns
    assert max(asks) - min(asks) < 200  # the session recap is bounded
