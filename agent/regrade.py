"""Re-grade a stored session with today's grader and line up old and new grades."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from agent.catalog import Catalog
from agent.domain import Grade
from agent.llm.port import GradeRequest
from agent.records import Transcript

GradeFn = Callable[[GradeRequest], Awaitable[Grade]]


class Regrade(BaseModel):
    seq: int
    question_id: str
    old_score: float
    new_score: float
    old_grader: str
    new_grader: str
    changed: list[tuple[str, str, str]]
    """(key point, old verdict, new verdict) where they differ."""


async def regrade(transcript: Transcript, catalog: Catalog, grade: GradeFn) -> list[Regrade]:
    """Every answered, graded spoken turn re-graded (code is judged by tests, so it is left as is)."""
    rows = []
    for step in transcript.steps:
        t = step.turn
        if t.grade is None or t.outcome != "answered" or t.code_runs:
            continue
        question = catalog.question(t.question_id)
        only = (t.probed_key_point,) if t.probed_key_point else ()
        new = await grade(GradeRequest(question=question, answer=t.answer, only=only))
        before = {v.key_point: v.verdict for v in t.grade.verdicts}
        changed = [(v.key_point, before.get(v.key_point, "—"), v.verdict) for v in new.verdicts
                   if before.get(v.key_point) != v.verdict]
        rows.append(Regrade(seq=t.seq, question_id=t.question_id, old_score=t.grade.score, new_score=new.score,
                            old_grader=t.grade.grader, new_grader=new.grader, changed=changed))
    return rows
