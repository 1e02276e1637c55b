"""The interview's vocabulary: questions and their rubrics, coding challenges, grades, turns.

Every front-end, agent and adapter speaks these types. They are plain pydantic models so they
validate the bank on load, travel through the graph's checkpoints as JSON, and serialise into
transcripts unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The runner's own types, re-exported as part of the interview's vocabulary.
from tools.runner.cases import CallCase as CallCase
from tools.runner.cases import Challenge as Challenge
from tools.runner.cases import Operation as Operation
from tools.runner.cases import OpsCase as OpsCase

QuestionKind = Literal["concept", "rapid_fire", "system_design", "behavioural", "coding"]
Verdict = Literal["covered", "partial", "missing"]
Difficulty = Annotated[int, Field(ge=1, le=3)]
Rating = Annotated[int, Field(ge=1, le=4)]
"""1 = again (did not know), 2 = hard (partial), 3 = good, 4 = easy. Maps onto FSRS ratings."""

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyPoint(_Frozen):
    """One checkable thing a strong answer says."""

    id: Slug
    text: str = Field(min_length=3)
    weight: float = Field(default=1.0, gt=0, le=5)
    signals: tuple[str, ...] = ()
    """Other ways a candidate might phrase this point (synonyms, abbreviations)."""
    hint: str = ""
    """A guiding question toward this point that does not state it (the offline hint; optional)."""


class FollowUp(_Frozen):
    """A probe the interviewer asks when the answer missed `key_point`."""

    key_point: Slug
    prompt: str = Field(min_length=5)


class Question(_Frozen):
    id: Slug
    version: int = Field(default=1, ge=1)
    topic: Slug
    subtopic: str = ""
    difficulty: Difficulty = 2
    kind: QuestionKind = "concept"
    prompt: str = Field(min_length=5)
    key_points: tuple[KeyPoint, ...] = Field(min_length=1)
    model_answer: str = Field(min_length=10)
    common_mistakes: tuple[str, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()
    tags: tuple[str, ...] = ()
    challenge: Slug | None = None
    """For coding questions: the id of the challenge whose hidden cases grade the code."""

    @model_validator(mode="after")
    def _follow_ups_probe_known_points(self) -> Question:
        ids = [kp.id for kp in self.key_points]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question {self.id}: duplicate key point ids")
        for fu in self.follow_ups:
            if fu.key_point not in ids:
                raise ValueError(
                    f"question {self.id}: follow-up probes unknown key point {fu.key_point!r}"
                )
        return self

    def key_point(self, kp_id: str) -> KeyPoint:
        return next(kp for kp in self.key_points if kp.id == kp_id)


# --- interview formats ---------------------------------------------------------------------------


class Section(_Frozen):
    name: str
    count: int = Field(ge=1, le=30)
    kinds: tuple[QuestionKind, ...] = Field(min_length=1)
    time_budget_s: int = Field(ge=10, le=3600)
    follow_ups: int = Field(default=2, ge=0, le=5)
    questions: tuple[Slug, ...] = ()
    """Fixed question ids, asked in this order (a scripted round); `count` must match."""

    @model_validator(mode="after")
    def _count_matches_questions(self) -> Section:
        if self.questions and len(self.questions) != self.count:
            raise ValueError(f"section {self.name}: count {self.count} but {len(self.questions)} questions listed")
        return self


class InterviewFormat(_Frozen):
    id: Slug
    title: str
    description: str = ""
    sections: tuple[Section, ...] = Field(min_length=1)
    clock: bool = False
    """Show one clock across the whole interview (elapsed and remaining) with each question."""

    @property
    def questions(self) -> int:
        return sum(s.count for s in self.sections)

    @property
    def minutes(self) -> int:
        return round(sum(s.count * s.time_budget_s for s in self.sections) / 60)


# --- grading -------------------------------------------------------------------------------------


class KeyPointVerdict(BaseModel):
    key_point: str
    verdict: Verdict
    evidence: str = ""
    """The words of the answer that earned the verdict; empty when missing."""


class Grade(BaseModel):
    """One grade type from every grader."""

    score: float = Field(ge=0.0, le=1.0)
    rating: Rating
    verdicts: list[KeyPointVerdict] = Field(default_factory=list)
    strengths: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    next_step: str = ""
    feedback: str = ""
    model_answer: str = ""
    grader: str = "offline"
    """Who graded: "offline" or the model id."""
    prompt: str = ""
    """The versioned instructions a model graded with (e.g. "grader-v1"); empty offline."""
    notes: list[str] = Field(default_factory=list)
    review: GradeReview | None = None
    """Set when a second grader (the model in an MCP client) reviewed this grade: what it replaced."""

    @property
    def missed(self) -> list[str]:
        return [v.key_point for v in self.verdicts if v.verdict != "covered"]


class RejectedVerdict(BaseModel):
    """A reviewer's verdict the coach did not accept, and why (the earlier verdict stands)."""

    key_point: str
    verdict: Verdict
    reason: str


class GradeReview(BaseModel):
    """A review of a grade: the reviewer's verdicts were accepted only where their evidence is
    in the candidate's answer; `before` is the grade the review replaced (the offline grader's)."""

    reviewer: str
    """Who reviewed, e.g. "client:claude-ai" (the MCP client's name)."""
    at: datetime
    before: Grade
    accepted: list[str] = Field(default_factory=list)
    """Key points whose verdict the review set."""
    rejected: list[RejectedVerdict] = Field(default_factory=list)


Grade.model_rebuild()


class Usage(BaseModel):
    """Token counts of one model call, as the provider reports them."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    purpose: str = ""


# --- the interview -------------------------------------------------------------------------------

GuardrailKind = Literal["budget_warning", "budget_exhausted", "model_call_cap"]


class GuardrailEvent(BaseModel):
    """A guardrail acted: the candidate sees the message; the transcript keeps the event."""

    kind: GuardrailKind
    message: str
    at: datetime


class CodeRun(BaseModel):
    """One submission of code for a coding question and what the sandbox made of it."""

    code: str
    status: str
    passed: int = 0
    total: int = 0
    duration_ms: float = 0.0
    result: dict[str, Any] = Field(default_factory=dict)
    """The runner's full result (per-test records; expected values only for visible cases)."""
    at: datetime

TurnOutcome = Literal["answered", "skipped", "ended"]
SelfRating = Annotated[int, Field(ge=1, le=3)]
"""How sure the candidate was of an answer: 1 = didn't know, 2 = partly, 3 = clear and complete."""


class Turn(BaseModel):
    """One question (or follow-up probe) asked and what came of it."""

    seq: int
    question_id: str
    question_version: int = 1
    topic: str
    prompt: str
    follow_up_of: int | None = None
    """seq of the turn this probe follows up; None for a main question."""
    probed_key_point: str | None = None
    answer: str = ""
    outcome: TurnOutcome = "answered"
    hints: list[str] = Field(default_factory=list)
    asked_at: datetime
    answered_at: datetime | None = None
    grade: Grade | None = None
    usage: list[Usage] = Field(default_factory=list)
    chosen_because: str = ""
    """Why the interviewer picked this question: review due, weak topic, new material."""
    time_budget_s: int | None = None
    late: bool = False
    """Answered after the question's time budget ran out (still graded)."""
    guardrail_events: list[GuardrailEvent] = Field(default_factory=list)
    code_runs: list[CodeRun] = Field(default_factory=list)
    self_rating: SelfRating | None = None
    """The candidate's own rating of the answer, given before seeing the grade (None: not rated)."""
    hinted: list[str] = Field(default_factory=list)
    """Key points a hint nudged toward: each earns at most HINTED_CREDIT of its credit."""
    section: str | None = None
    """The format's section this turn belongs to (e.g. "warm-up" in the 45-minute mock)."""


class Prompt(BaseModel):
    """What the interviewer says next and waits on."""

    seq: int
    question_id: str
    topic: str
    kind: QuestionKind
    text: str
    is_follow_up: bool = False
    number: int
    """1-based number of the main question this belongs to."""
    total: int
    time_budget_s: int | None = None
    asked_at: datetime | None = None
    chosen_because: str = ""
    """Why this question came: "review due" marks a review of a question missed before."""
    section: str | None = None
    """The format section this question belongs to, for formats with more than one."""
    section_number: int | None = None
    sections: int | None = None
    elapsed_s: int | None = None
    """Seconds since the interview's first question was asked."""
    planned_s: int | None = None
    """The whole interview's planned length in seconds (the sum of its time budgets)."""

    @property
    def is_review(self) -> bool:
        return self.chosen_because == "review due"


class SectionSummary(BaseModel):
    """One section of a multi-section format, closed: how it went and how long it took."""

    name: str
    questions: int
    score: float | None = None
    seconds: float = 0.0
    planned_s: int = 0


class SessionReport(BaseModel):
    session_id: str
    user: str
    status: Literal["active", "finished"]
    started_at: datetime
    ended_at: datetime | None = None
    turns: list[Turn]
    score: float | None = None
    """Mean score over graded main questions (follow-ups fold into their question)."""
    by_topic: dict[str, float] = Field(default_factory=dict)
    to_review: list[dict[str, str]] = Field(default_factory=list)
    """Key points missed, each with the model answer of its question (and `next_review`, an ISO
    date, when the question's spaced-repetition review is scheduled)."""
    sections: list[SectionSummary] = Field(default_factory=list)
    """Per-section summary, for formats with named sections (the 45-minute mock)."""
