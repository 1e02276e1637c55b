"""AnthropicLLM: Claude as interviewer and grader. The only module that imports `anthropic`.

- The stable part of each request (instructions and the question's rubric) is one system block
  marked for prompt caching; the candidate's words go in the user turn, fenced as data.
- Grades come back as structured output validated by pydantic. The model returns a verdict per
  key point; the score and rating are computed here from the rubric's weights, so an answer that
  talks the model into "full marks" still has to show the key points.
- One retry on invalid output; then `ModelFailed` (with the usage already paid for), and the
  guard (`agent.guardrails.GuardedLLM`) applies the one fallback policy.
- Every HTTP request is billed, so every one (retries included) passes the guard's `Meter`: it is
  admitted first (its worst case reserved in the budgets, or refused: then it is not sent) and
  settled after. The SDK's own retries are off (`max_retries=0`), they would send requests behind
  the meter's back; transient errors (429, 5xx, timeouts) are retried here, each retry metered.
- Instructions live in versioned files (`agent/llm/prompts/`); each grade names the prompt.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any, TypeVar

import anthropic
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config import Settings
from agent.domain import Grade, KeyPointVerdict, Question, Usage, Verdict
from agent.grading.offline import CREDIT, rating_for
from agent.llm.port import (
    Ask,
    AskRequest,
    BilledRequest,
    GradeRequest,
    HintRequest,
    Meter,
    ModelFailed,
    Reply,
    RequestRefused,
    Unmetered,
)
from agent.llm.prompts import GRADER, INTERVIEWER


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # the JSON schema says additionalProperties: false


OutT = TypeVar("OutT", bound=_Strict)
REQUEST_TIMEOUT_S = 120.0
"""One HTTP request's time limit (the SDK's default is 10 minutes); well inside the budget
ledger's reservation expiry, so a live request's reservation is not taken for a stale one."""
RETRY_STATUS = frozenset({408, 409, 429})
"""Besides every 5xx: the statuses the SDK itself would retry. An error response is not billed."""


class _VerdictOut(_Strict):
    key_point: str
    verdict: Verdict
    evidence: str = ""


class _GradeOut(_Strict):
    verdicts: list[_VerdictOut]
    strengths: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    next_step: str = ""
    feedback: str = ""


class _AskOut(_Strict):
    text: str
    probed_key_point: str | None = None


def _fence(answer: str) -> str:
    """Wrap the candidate's words as data; a closing tag inside cannot end the fence early."""
    return "<answer>\n" + answer.replace("</answer>", "</ answer>") + "\n</answer>"


def _rubric(question: Question, only: tuple[str, ...] = ()) -> str:
    lines = [f"Question ({question.topic}, {question.kind}): {question.prompt}", "Rubric key points:"]
    for kp in question.key_points:
        if not only or kp.id in only:
            lines.append(f"- id={kp.id} weight={kp.weight}: {kp.text}")
    return "\n".join(lines)


def _usage(model: str, purpose: str, raw: anthropic.types.Usage) -> Usage:
    return Usage(
        model=model,
        purpose=purpose,
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_read_tokens=raw.cache_read_input_tokens or 0,
        cache_write_tokens=raw.cache_creation_input_tokens or 0,
    )


class AnthropicLLM:
    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        interviewer_model: str,
        grader_model: str,
        max_tokens: int = 1024,
        meter: Meter | None = None,
        http_retries: int = 2,
        retry_wait_s: float = 0.5,
    ) -> None:
        # A client built elsewhere may retry on its own: those requests would pass no meter.
        self._client = client.with_options(max_retries=0)
        self._interviewer_model = interviewer_model
        self._grader_model = grader_model
        self._max_tokens = max_tokens
        self._meter: Meter = meter or Unmetered()
        self._http_retries = http_retries
        self._retry_wait_s = retry_wait_s
        self.name = grader_model

    def metered(self, meter: Meter) -> AnthropicLLM:
        """This adapter (same client and connections) with every request passing `meter`."""
        view = copy.copy(self)
        view._meter = meter
        return view

    @classmethod
    def from_settings(cls, settings: Settings) -> AnthropicLLM:
        client = anthropic.AsyncAnthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),  # type: ignore[union-attr]
            base_url=settings.anthropic_base_url,
            max_retries=0,  # retries are ours, each one metered (see the module docstring)
            timeout=REQUEST_TIMEOUT_S,
        )
        return cls(client, settings.interviewer_model, settings.grader_model, settings.max_output_tokens)

    async def _parse(self, model: str, purpose: str, system: str, user: str, out: type[OutT]) -> tuple[OutT | None, Usage]:
        """One structured call. The usage comes back even when the output does not validate,
        so a bad reply is still paid for in the ledger. (Not the SDK's `messages.parse`: it raises
        on output that does not validate, and the response with its usage is lost.)"""
        params: dict[str, Any] = {
            "model": model,
            "max_tokens": self._max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": user}],
            "output_config": {"format": {"type": "json_schema", "schema": out.model_json_schema()}},
        }
        response = await self._send(purpose, params)
        usage = _usage(model, purpose, response.usage)
        text = "".join(block.text for block in response.content if block.type == "text")
        try:
            return out.model_validate_json(text), usage
        except ValidationError:
            return None, usage

    async def _send(self, purpose: str, params: dict[str, Any]) -> anthropic.types.Message:
        """Send one request, retrying transient errors; every attempt is admitted and settled by
        the meter. Raises the SDK's error when the last attempt fails, RequestRefused when the
        meter keeps an attempt from being sent."""
        billed = BilledRequest(purpose=purpose, model=params["model"], max_tokens=params["max_tokens"],
                               input_bytes=len(json.dumps(params, separators=(",", ":")).encode()))
        for attempt in range(self._http_retries + 1):
            ticket = self._meter.admit(billed)
            try:
                response: anthropic.types.Message = await self._client.messages.create(**params)
            except anthropic.APIStatusError as err:
                self._meter.settle(ticket, Usage(model=billed.model, purpose=purpose))  # errors are not billed
                if attempt == self._http_retries or not (err.status_code >= 500 or err.status_code in RETRY_STATUS):
                    raise
                await asyncio.sleep(self._wait(attempt, err.response.headers.get("retry-after")))
                continue
            except anthropic.APIConnectionError:
                self._meter.settle(ticket, None)  # it may have been served and billed: the worst case stays
                if attempt == self._http_retries:
                    raise
                await asyncio.sleep(self._wait(attempt, None))
                continue
            except BaseException:
                self._meter.settle(ticket, None)  # cancelled or broken mid-request: the worst case stays
                raise
            self._meter.settle(ticket, _usage(billed.model, purpose, response.usage))
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before the next attempt: the server's Retry-After when it sent one, else
        exponential; at most 20 s (a candidate is waiting)."""
        try:
            asked = float(retry_after) if retry_after else None
        except ValueError:
            asked = None
        return min(20.0, asked if asked is not None else self._retry_wait_s * 2**attempt)

    async def grade(self, request: GradeRequest) -> Reply[Grade]:
        q = request.question
        system = f"{GRADER.text}\n\n{_rubric(q, request.only)}"
        earlier = "".join(f"Earlier on this question the candidate said:\n{_fence(a)}\n" for a in request.prior_answers)
        user = earlier + "Grade this answer (what was said earlier counts too).\n" + _fence(request.answer) \
            if earlier else "Grade this answer.\n" + _fence(request.answer)
        usages: list[Usage] = []
        for _attempt in range(2):
            out, usage = await self._call(self._grader_model, "grade", system, user, _GradeOut, usages)
            usages.append(usage)
            if out is not None:
                return Reply(value=self._grade_from(q, out, request.only), usage=usages)
        raise ModelFailed("the grader's output did not match the grade schema twice", usages)

    async def _call(self, model: str, purpose: str, system: str, user: str, out: type[OutT],
                    paid: list[Usage]) -> tuple[OutT | None, Usage]:
        """`_parse`, with an unreachable model reported as ModelFailed (what was paid for kept)."""
        try:
            return await self._parse(model, purpose, system, user, out)
        except RequestRefused as refused:
            raise RequestRefused(refused.reason, paid, refused.cap, refused.scope) from None
        except anthropic.APIError as err:
            raise ModelFailed(f"the model was unreachable ({type(err).__name__})", paid) from None

    def _grade_from(self, q: Question, out: _GradeOut, only: tuple[str, ...]) -> Grade:
        points = [kp for kp in q.key_points if not only or kp.id in only]
        given = {v.key_point: v for v in out.verdicts}
        verdicts = [
            KeyPointVerdict(
                key_point=kp.id,
                verdict=given[kp.id].verdict if kp.id in given else "missing",
                evidence=given[kp.id].evidence[:240] if kp.id in given else "",
            )
            for kp in points
        ]
        total = sum(kp.weight for kp in points)
        score = sum(kp.weight * CREDIT[v.verdict] for kp, v in zip(points, verdicts, strict=True)) / total
        score = round(score, 4)
        return Grade(
            score=score,
            rating=rating_for(score),
            verdicts=verdicts,
            strengths=out.strengths[:5],
            gaps=out.gaps[:5],
            next_step=out.next_step,
            feedback=out.feedback,
            model_answer=q.model_answer,
            grader=self._grader_model,
            prompt=GRADER.id,
        )

    async def ask(self, request: AskRequest) -> Reply[Ask]:
        q = request.question
        probes = "\n".join(f"- key_point={p.key_point}: {p.prompt}" for p in request.probes)
        system = f"{INTERVIEWER.text}\n\nQuestion: {q.prompt}\nProbes you may use:\n{probes}"
        user = (
            f"Session so far: {request.context or 'this is the first question'}\n"
            f"The candidate answered:\n{_fence(request.last_answer)}\n"
            "Write the follow-up and name the key_point it probes."
        )
        out, usage = await self._call(self._interviewer_model, "ask", system, user, _AskOut, [])
        if out is None:
            raise ModelFailed("the interviewer's output did not match the schema", [usage])
        known = {p.key_point for p in request.probes}
        probed = out.probed_key_point if out.probed_key_point in known else request.probes[0].key_point
        return Reply(value=Ask(text=out.text, probed_key_point=probed), usage=[usage])

    async def hint(self, request: HintRequest) -> Reply[str]:
        q = request.question
        on_screen = "\n".join(request.on_screen or [q.prompt])
        if request.key_point is not None:
            target = f"The point they have not reached (never state it, never use its words): {request.key_point.text}"
        else:
            target = f"Key points (do not state them): {'; '.join(kp.text for kp in q.key_points)}"
        system = f"{INTERVIEWER.text}\n\nOn the candidate's screen now:\n{on_screen}\n{target}"
        given = "\n".join(request.hints_given) or "none"
        user = (f"Hints given so far:\n{given}\nWrite one new hint: a single guiding question that leads the "
                "candidate toward that point without naming it or answering it.")
        out, usage = await self._call(self._interviewer_model, "hint", system, user, _AskOut, [])
        if out is None:
            raise ModelFailed("the hint did not match the schema", [usage])
        return Reply(value=out.text, usage=[usage])
