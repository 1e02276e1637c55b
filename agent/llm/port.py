"""The LLM port: what the interviewer and grader agents need from a model, and nothing more.

Two adapters implement it: `OfflineLLM` (deterministic, driven by the bank's rubrics; the default
with no key) and `AnthropicLLM` (Claude through the official SDK). Both return the same types, and
every reply carries the usage of the calls it took so the service can price and record them.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, Field

from agent.domain import FollowUp, Grade, KeyPoint, Question, Usage

T = TypeVar("T")


class ModelFailed(Exception):
    """The model could not serve a request: unreachable, or its output never fit the schema.

    Carries the usage already paid for. Adapters raise it; `GuardedLLM` alone decides what
    happens next (the offline coach finishes the step), so there is one fallback policy."""

    def __init__(self, reason: str, usage: list[Usage]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = list(usage)


class Reply(BaseModel, Generic[T]):
    value: T
    usage: list[Usage] = Field(default_factory=list)


class AskRequest(BaseModel):
    """The interviewer's follow-up: pick the most useful of `probes` and phrase it."""

    question: Question
    probes: list[FollowUp] = Field(min_length=1)
    """Ordered most useful first (the candidate's history, then the rubric's weights)."""
    last_answer: str = ""
    context: str = ""
    """A bounded summary of the session so far (never the whole transcript)."""


class Ask(BaseModel):
    text: str
    probed_key_point: str | None = None


class GradeRequest(BaseModel):
    question: Question
    answer: str
    only: tuple[str, ...] = ()
    """Grade only these key points (a follow-up probes one); empty means all of them."""
    prior_answers: tuple[str, ...] = ()
    """What the candidate said earlier on this question: a follow-up is graded with it."""


class HintRequest(BaseModel):
    question: Question
    hints_given: list[str] = Field(default_factory=list)
    key_point: KeyPoint | None = None
    """The point to nudge toward (the one open on screen); never to be stated."""
    on_screen: list[str] = Field(default_factory=list)
    """What the candidate sees now: the question, and the follow-up if one is open."""


class LLM(Protocol):
    name: str

    async def ask(self, request: AskRequest) -> Reply[Ask]: ...

    async def grade(self, request: GradeRequest) -> Reply[Grade]: ...

    async def hint(self, request: HintRequest) -> Reply[str]: ...
