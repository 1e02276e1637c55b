"""AnthropicLLM: Claude as interviewer and grader. The only module that imports `anthropic`.

- The stable part of each request (instructions and the question's rubric) is one system block
  marked for prompt caching; the candidate's words go in the user turn, fenced as data.
- Grades come back as structured output validated by pydantic. The model returns a verdict per
  key point; the score and rating are computed here from the rubric's weights, so an answer that
  talks the model into "full marks" still has to show the key points.
- One retry on invalid output; then `ModelFailed` (with the usage already paid for), and the
  guard (`agent.guardrails.GuardedLLM`) applies the one fallback policy.
- Instructions live in versioned files (`agent/llm/prompts/`); each grade names the prompt.
"""

from __future__ import annotations

from typing import TypeVar

import anthropic
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config import Settings
from agent.domain import Grade, KeyPointVerdict, Question, Usage, Verdict
from agent.grading.offline import CREDIT, rating_for
from agent.llm.port import Ask, AskRequest, GradeRequest, HintRequest, ModelFailed, Reply
from agent.llm.prompts import GRADER, INTERVIEWER


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # the JSON schema says additionalProperties: false


OutT = TypeVar("OutT", bound=_Strict)


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
    ) -> None:
        self._client = client
        self._interviewer_model = interviewer_model
        self._grader_model = grader_model
        self._max_tokens = max_tokens
        self.name = grader_model

    @classmethod
    def from_settings(cls, settings: Settings) -> AnthropicLLM:
        client = anthropic.AsyncAnthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),  # type: ignore[union-attr]
            base_url=settings.anthropic_base_url,
            max_retries=2,
        )
        return cls(client, settings.interviewer_model, settings.grader_model, settings.max_output_tokens)

    async def _parse(self, model: str, purpose: str, system: str, user: str, out: type[OutT]) -> tuple[OutT | None, Usage]:
        """One structured call. The usage comes back even when the output does not validate,
        so a bad reply is still paid for in the ledger. (Not the SDK's `messages.parse`: it raises
        on output that does not validate, and the response with its usage is lost.)"""
        response = await self._client.messages.create(
            model=model,
            max_tokens=self._max_tokens,
            system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": user}],
            output_config={"format": {"type": "json_schema", "schema": out.model_json_schema()}},
        )
        usage = _usage(model, purpose, response.usage)
        text = "".join(block.text for block in response.content if block.type == "text")
        try:
            return out.model_validate_json(text), usage
        except ValidationError:
            return None, usage

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
