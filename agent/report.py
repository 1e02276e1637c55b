"""The end-of-interview report, built from stored turns (never from the live graph)."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from agent.domain import SessionReport, Turn
from agent.grading.offline import CREDIT
from agent.store.models import SessionRow

FOLLOW_UP_CREDIT = 0.5
"""A point recalled only after a probe earns half: prompted recall is weaker evidence."""


def question_scores(turns: list[Turn]) -> dict[int, float]:
    """Score per main question (keyed by its seq), crediting follow-ups that recovered points."""
    scores: dict[int, float] = {}
    credit: dict[int, dict[str, float]] = {}
    for t in turns:
        if t.grade is None:
            continue
        if t.follow_up_of is None:
            scores[t.seq] = t.grade.score
            credit[t.seq] = {v.key_point: CREDIT[v.verdict] for v in t.grade.verdicts}
        elif t.follow_up_of in scores and t.probed_key_point:
            points = credit[t.follow_up_of]
            before = points.get(t.probed_key_point, 0.0)
            gained = max(0.0, FOLLOW_UP_CREDIT * t.grade.score - before)
            if points:
                scores[t.follow_up_of] = min(1.0, scores[t.follow_up_of] + gained / len(points))
                points[t.probed_key_point] = before + gained
    return scores


def build_report(row: SessionRow, user: str, turns: list[Turn]) -> SessionReport:
    scores = question_scores(turns)
    main = {t.seq: t for t in turns if t.follow_up_of is None}
    by_topic: dict[str, list[float]] = defaultdict(list)
    for seq, score in scores.items():
        by_topic[main[seq].topic].append(score)
    to_review = []
    for t in turns:
        if t.follow_up_of is None and t.grade and t.grade.gaps:
            to_review.append(
                {"question_id": t.question_id, "prompt": t.prompt, "missed": "; ".join(t.grade.gaps),
                 "model_answer": t.grade.model_answer}
            )
    return SessionReport(
        session_id=row.id,
        user=user,
        status="finished" if row.status == "finished" else "active",
        started_at=row.started_at,
        ended_at=row.ended_at,
        turns=turns,
        score=round(mean(scores.values()), 4) if scores else None,
        by_topic={k: round(mean(v), 4) for k, v in sorted(by_topic.items())},
        to_review=to_review,
    )
