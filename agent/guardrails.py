"""Guardrails: input limits, a per-user rate limit, pricing, cost budgets and per-turn model caps.

`GuardedLLM` wraps the session's model adapter for one graph step. Before each billed request it
checks the per-turn request cap and reserves the request's worst-case cost in the session,
user-day and global-day budgets; after it, it settles the real cost. An adapter that sends HTTP
requests itself (`Metered`, e.g. Claude) passes every request through the guard's meter, retries
included, so a retry that would cross a cap is not sent; any other adapter counts one request a
call. When a cap or a budget is reached it answers from the offline coach instead (or stops, if
configured), and records a `GuardrailEvent` that reaches the candidate as a notice and the
transcript as an event.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from agent.config import Budgets, Limits, Price
from agent.domain import Grade, GuardrailEvent, GuardrailKind, Usage
from agent.errors import AnswerRejected, CoachError
from agent.llm.offline import OfflineLLM
from agent.llm.port import (
    LLM,
    Ask,
    AskRequest,
    BilledRequest,
    GradeRequest,
    HintRequest,
    Metered,
    ModelFailed,
    Reply,
    RequestRefused,
)
from agent.store.budget import BudgetFull, BudgetLedger, Reservation, Scope
from tools.runner import limits as runner_limits

log = logging.getLogger(__name__)
T = TypeVar("T")
API_OVERHEAD_TOKENS = 512
"""Input tokens the API may add to a request beyond its body (message framing, the structured
output instructions): part of a request's worst case."""


class BudgetExhausted(CoachError):
    pass


class RateLimited(CoachError):
    pass


def check_answer(text: str, limits: Limits) -> str:
    """The answer as it will be graded, or AnswerRejected saying what to do instead."""
    if "\x00" in text:
        raise AnswerRejected("Your answer contains a NUL byte; send plain text.")
    answer = text.strip()
    if not answer:
        raise AnswerRejected("Your answer is empty: type an answer, or use /hint, /skip or /end.")
    if len(answer) > limits.max_answer_chars:
        raise AnswerRejected(
            f"Your answer is {len(answer):,} characters; the limit is {limits.max_answer_chars:,}. "
            "Nothing was recorded: send a shorter answer (an interviewer wants the key ideas)."
        )
    return answer


def check_code(code: str, limits: Limits) -> str:
    """Code as it will be run, or AnswerRejected saying what to do instead."""
    try:
        return runner_limits.check_code(code, limits.max_code_chars)
    except runner_limits.CodeRejected as err:
        raise AnswerRejected(str(err)) from None


def check_tests(tests: str, limits: Limits) -> str:
    """Test code as it will be run, or AnswerRejected saying what to do instead."""
    try:
        return runner_limits.check_tests(tests, limits.max_tests_chars)
    except runner_limits.CodeRejected as err:
        raise AnswerRejected(str(err)) from None


def cost_usd(usage: Usage, prices: dict[str, Price]) -> float:
    """Price one model call from the pricing table; an unknown model prices at the dearest rate."""
    price = prices.get(usage.model) or max(prices.values(), key=lambda p: p.output)
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    ) / 1_000_000


class RateLimiter:
    """At most `per_minute` actions per user in any sliding minute (in this process); 0 = off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)

    def check(self, user: str) -> None:
        if not self.per_minute:
            return
        now = self._clock()
        window = self._seen[user]
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.per_minute:
            wait = max(1, math.ceil(60 - (now - window[0])))
            raise RateLimited(f"Slow down: at most {self.per_minute} messages a minute. Try again in {wait} s.")
        window.append(now)


def budget_scopes(budgets: Budgets, user: str, session_id: str, now: datetime | None = None) -> list[Scope]:
    day = (now or datetime.now(UTC)).date().isoformat()
    return [
        Scope(f"session:{session_id}", budgets.session_usd),
        Scope(f"user:{user}:{day}", budgets.user_daily_usd),
        Scope(f"global:{day}", budgets.global_daily_usd),
    ]


class CostGate:
    """What a GuardedLLM needs to price, reserve and settle calls; one per service."""

    def __init__(self, ledger: BudgetLedger, budgets: Budgets, prices: dict[str, Price],
                 interviewer_model: str, grader_model: str, max_output_tokens: int) -> None:
        self.ledger = ledger
        self.budgets = budgets
        self.prices = prices
        self.models = {"ask": interviewer_model, "hint": interviewer_model, "grade": grader_model}
        self.max_output_tokens = max_output_tokens
        ledger.reconcile()  # reservations left by a process that died are settled at start-up

    def worst_case(self, request: BilledRequest) -> float:
        """The most one request can cost: every input byte a token (a byte-level tokenizer gives
        no more), priced at the dearest input rate (a cache write), and every output token used."""
        price = self.prices.get(request.model) or max(self.prices.values(), key=lambda p: p.output)
        per_input = max(price.input, price.cache_write, price.cache_read)
        tokens_in = request.input_bytes + API_OVERHEAD_TOKENS
        return (tokens_in * per_input + request.max_tokens * price.output) / 1_000_000

    def estimate(self, purpose: str, chars: int) -> float:
        """For an adapter that is not `Metered` (one request a call): the whole prompt uncached
        (~3 characters a token, plus instructions) and every output token used."""
        usage = Usage(model=self.models[purpose], input_tokens=chars // 3 + 600, output_tokens=self.max_output_tokens)
        return cost_usd(usage, self.prices)


class GuardedLLM:
    """The session's model for one graph step, inside the call cap and the cost budgets."""

    def __init__(self, inner: LLM, gate: CostGate | None, scopes: list[Scope], calls_so_far: int, limits: Limits) -> None:
        self.inner = inner
        self.name = inner.name
        self.gate = gate
        self.scopes = scopes
        self.calls = calls_so_far
        self.limits = limits
        self.events: list[GuardrailEvent] = []
        self._offline = OfflineLLM()

    async def ask(self, request: AskRequest) -> Reply[Ask]:
        chars = len(request.question.prompt) + len(request.last_answer) + len(request.context)
        return await self._call("ask", chars, lambda m: m.ask(request))

    async def grade(self, request: GradeRequest) -> Reply[Grade]:
        chars = len(request.question.prompt) + len(request.answer) + 120 * len(request.question.key_points)
        return await self._call("grade", chars, lambda m: m.grade(request))

    async def hint(self, request: HintRequest) -> Reply[str]:
        return await self._call("hint", len(request.question.prompt) + 400, lambda m: m.hint(request))

    async def _call(self, purpose: str, chars: int, call: Callable[[LLM], Awaitable[Reply[T]]]) -> Reply[T]:
        if self.inner.name == self._offline.name:
            return await call(self.inner)
        if isinstance(self.inner, Metered):
            return await self._metered(purpose, call, self.inner)
        if self.calls >= self.limits.model_calls_per_turn:
            return await self._capped(call)
        self.calls += 1
        if self.gate is None:
            return await self._model_or_offline(purpose, call)
        estimate = self.gate.estimate(purpose, chars)
        try:
            held = self.gate.ledger.reserve(self.scopes, estimate)
        except BudgetFull as full:
            return await self._exhausted(full.scope, call)
        paid: list[Usage] = []
        try:
            reply = await self._model_or_offline(purpose, call)
            paid = reply.usage
            return reply
        finally:
            self.gate.ledger.settle(held, sum(cost_usd(u, self.gate.prices) for u in paid))
            self._warn_if_near()

    async def _metered(self, purpose: str, call: Callable[[LLM], Awaitable[Reply[T]]], inner: Metered) -> Reply[T]:
        """The adapter's every request passes `admit`/`settle` below; a refused one is not sent."""
        try:
            return await self._model_or_offline(purpose, call, inner.metered(_GuardMeter(self)))
        except RequestRefused as refused:
            if refused.cap == "requests":
                reply = await self._capped(call)
            elif refused.usage:  # requests of this call were paid already: keep them, go offline
                self._event("budget_exhausted", f"{_label(refused.scope).capitalize()} model budget is used up; "
                            "the offline interviewer and grader take over.")
                reply = await call(self._offline)
            else:
                reply = await self._exhausted(refused.scope, call)
            if isinstance(reply.value, Grade) and refused.usage:
                reply.value.notes.append(f"graded offline: {refused.reason}")
            return reply.model_copy(update={"usage": [*refused.usage, *reply.usage]})
        finally:
            if self.gate is not None:
                self._warn_if_near()

    async def _capped(self, call: Callable[[LLM], Awaitable[Reply[T]]]) -> Reply[T]:
        self._event("model_call_cap", "The model was called too often for one answer; the offline "
                    "coach finished this step.")
        return await call(self._offline)

    async def _model_or_offline(self, purpose: str, call: Callable[[LLM], Awaitable[Reply[T]]],
                                model: LLM | None = None) -> Reply[T]:
        """The one fallback policy: a model that fails hands the step to the offline coach, and
        what the failed calls cost stays on the reply (and so in the ledger). A request the guard
        refused is the caller's to handle (it says which cap)."""
        try:
            return await call(model or self.inner)
        except RequestRefused:
            raise
        except ModelFailed as failure:
            log.warning("%s fell back to the offline coach: %s", purpose, failure.reason)
            reply = await call(self._offline)
            if isinstance(reply.value, Grade):
                reply.value.notes.append(f"graded offline: {failure.reason}")
            return reply.model_copy(update={"usage": [*failure.usage, *reply.usage]})

    async def _exhausted(self, scope: str, call: Callable[[LLM], Awaitable[Reply[T]]]) -> Reply[T]:
        label = _label(scope)
        if self.gate and self.gate.budgets.on_exhausted == "stop":
            raise BudgetExhausted(f"{label.capitalize()} model budget is used up. Continue with "
                                  "`--offline`, or raise the budget in COACH_BUDGETS__*.")
        self._event("budget_exhausted", f"{label.capitalize()} model budget is used up; the offline "
                    "interviewer and grader take over.")
        return await call(self._offline)

    def _warn_if_near(self) -> None:
        assert self.gate is not None
        for spend in self.gate.ledger.spend(self.scopes):
            if spend.share >= self.gate.budgets.warn_at:
                self._event("budget_warning", f"{spend.share:.0%} of the {spend.scope.split(':')[0]} model "
                            f"budget (${spend.limit_usd:.2f}) is used.")
                return

    def _event(self, kind: GuardrailKind, message: str) -> None:
        if not any(e.kind == kind for e in self.events):
            self.events.append(GuardrailEvent(kind=kind, message=message, at=datetime.now(UTC)))


def _label(scope: str) -> str:
    """Whose budget a scope key is, in the candidate's words."""
    what = scope.split(":")[0]
    return {"session": "this session's", "user": "your daily", "global": "today's shared"}.get(what, "the")


class _GuardMeter:
    """A GuardedLLM's gate for each billed request its adapter sends (see `agent.llm.port.Meter`)."""

    def __init__(self, guard: GuardedLLM) -> None:
        self._guard = guard

    def admit(self, request: BilledRequest) -> Reservation | None:
        guard = self._guard
        if guard.calls >= guard.limits.model_calls_per_turn:
            raise RequestRefused("the model request cap for one answer was reached", [], "requests")
        held = None
        if guard.gate is not None:
            try:
                held = guard.gate.ledger.reserve(guard.scopes, guard.gate.worst_case(request))
            except BudgetFull as full:
                raise RequestRefused(f"{_label(full.scope)} model budget has no room for another request",
                                     [], "budget", full.scope) from None
        guard.calls += 1
        return held

    def settle(self, ticket: object, usage: Usage | None) -> None:
        gate = self._guard.gate
        if gate is None or not isinstance(ticket, Reservation):
            return
        actual = ticket.estimate_usd if usage is None else cost_usd(usage, gate.prices)
        if actual > ticket.estimate_usd:
            log.warning("a %s request cost $%.4f, above its worst case of $%.4f", usage and usage.purpose,
                        actual, ticket.estimate_usd)
        gate.ledger.settle(ticket, actual)
