"""The interview graph's state, typed: what the checkpointer keeps for each session's thread.

Values are the domain's pydantic models, so nodes read attributes instead of dict keys and the
service hands `OpenTurn.as_prompt()` and finished `Turn`s to front-ends without mapping anything.
LangGraph derives its checkpoint allow-list from these annotations.
"""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel

from agent.domain import GuardrailEvent, Prompt, QuestionKind, SelfRating, Turn
from agent.planner import Slot

Phase = Literal["ask", "await", "act", "done"]
ActionKind = Literal["answer", "hint", "skip", "end"]


class Action(BaseModel):
    """What the candidate did, as the service hands it to the graph."""

    kind: ActionKind
    text: str = ""
    at: datetime
    """Taken by the service, so a re-run node sees the same time."""
    key: str | None = None
    """Optional idempotency key from the front-end (e.g. a Telegram update id)."""
    confidence: SelfRating | None = None
    """The candidate's self-rating of this answer (1-3), given before the grade; None if not rated."""


class OpenTurn(Turn):
    """The asked-but-unanswered turn: a `Turn` plus what the candidate is shown about it."""

    kind: QuestionKind
    number: int
    """1-based number of the main question this belongs to."""
    total: int
    section_number: int | None = None
    sections: int | None = None
    elapsed_s: int | None = None
    """Seconds since the interview's first question, when this one was asked."""
    planned_s: int | None = None

    def as_prompt(self) -> Prompt:
        """What a front-end shows for this turn."""
        return Prompt(seq=self.seq, question_id=self.question_id, topic=self.topic, kind=self.kind,
                      text=self.prompt, is_follow_up=self.follow_up_of is not None, number=self.number,
                      total=self.total, time_budget_s=self.time_budget_s, asked_at=self.asked_at,
                      chosen_because=self.chosen_because, section=self.section, section_number=self.section_number,
                      sections=self.sections, elapsed_s=self.elapsed_s, planned_s=self.planned_s)

    def closed(self, **changes: object) -> Turn:
        """The finished `Turn` (answered, skipped or ended) with `changes` applied."""
        data = self.model_dump(exclude={"kind", "number", "total", "section_number", "sections", "elapsed_s",
                                        "planned_s"})
        data.update(changes)
        return Turn.model_validate(data)


class InterviewState(TypedDict, total=False):
    session_id: str
    user: str
    plan: list[Slot]
    """One slot per main question: what may fill it."""
    position: int
    """Index into `plan` of the question being discussed; -1 before the first."""
    question_id: str
    """The main question being discussed."""
    asked: list[str]
    difficulty: int
    """The difficulty the next main question aims at (1-3); moves with the answers."""
    seq: int
    """Sequence number the next asked turn gets."""
    phase: Phase
    current: OpenTurn | None
    action: Action | None
    turns: Annotated[list[Turn], operator.add]
    """Finished turns (append-only)."""
    open_points: list[str]
    """Key points of the current question still missed after its answers so far."""
    probed: list[str]
    last_answer: str
    notice: str
    """A message for the candidate from the last step (e.g. a guardrail), shown once."""
    events: list[GuardrailEvent]
    """Guardrail events since the candidate's last action."""
    model_calls: int
    """Model calls made since the candidate's last action (capped per turn)."""
    steps: int
    """Node runs since the candidate's last action, the candidate's own included (the supervisor caps it)."""
    action_keys: list[str]
    """Idempotency keys of recent actions (e.g. a chat message id): a repeat is dropped."""
    duplicate: bool
    """The last action was a repeat and was dropped."""
