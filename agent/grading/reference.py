"""Grading answers from graded data files: a reference answer and/or key points, no bank question.

Why a separate entry point: real graded data has one-word references ("push") and one-word
answers, which the bank's validated `Question` rightly refuses. Here any non-empty text is valid.
With only a reference answer, the score is the learned combiner's (the setting it was trained in);
with key points, the rubric matcher's weighted credit. Several reference answers: the best one
counts, as a person accepts any of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.domain import Verdict
from agent.grading.combiner import shipped
from agent.grading.features import features
from agent.grading.matching import RubricPoint
from agent.grading.offline import capped_for_form, is_no_attempt, match_points, rating_for, verdict_for
from agent.grading.text import sentences


@dataclass
class FreeTextGrade:
    score: float
    rating: int
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def points_from_reference(reference: str) -> list[RubricPoint]:
    """One point per sentence or clause of the reference; a one-word reference is one point."""
    pieces = [p.strip(" ,") for s in sentences(reference) for p in re.split(r";|, (?:and|but|so|which) ", s)]
    pieces = [p for p in pieces if p]
    return [RubricPoint(f"p{i}", p[:300]) for i, p in enumerate(pieces or [reference.strip()], 1)]


def grade_free_text(answer: str, *, question: str = "", reference: str = "",
                    key_points: Sequence[RubricPoint] = (), alternates: Sequence[str] = ()) -> FreeTextGrade:
    """Score in [0, 1] for `answer` against a reference answer (and alternates) or key points."""
    if not answer.strip():
        raise ValueError("the answer is empty")
    if not reference.strip() and not key_points:
        raise ValueError("give key_points or a reference_answer")
    points = list(key_points) or points_from_reference(reference)
    matches = match_points(points, question, answer)
    verdicts = {p.id: verdict_for(matches[p.id].credit) for p in points}
    evidence = {p.id: matches[p.id].evidence for p in points if verdicts[p.id] != "missing"}
    notes: list[str] = []
    if is_no_attempt(answer):
        return FreeTextGrade(0.0, 1, verdicts, evidence, ["no attempt"])
    if key_points:
        total = sum(p.weight for p in points)
        score = sum(p.weight * matches[p.id].credit for p in points) / total
    else:
        refs = [r for r in (reference, *alternates) if r and r.strip()]
        score = max(shipped().predict(features(r, answer, question)) for r in refs)
    score = capped_for_form(answer, score, notes)
    score = round(max(0.0, min(1.0, score)), 4)
    return FreeTextGrade(score, rating_for(score), verdicts, evidence, notes)
