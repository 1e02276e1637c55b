"""Read-models of sessions: the report, the transcript, summaries, progress and backups.

Each is built from stored turns (never from the live graph), and every score comes from one
function, `question_scores`, so the report, the transcript, the summary and the progress chart
agree. `Transcript` is the versioned, replayable record every front-end renders;
`TRANSCRIPT_SCHEMA_VERSION` changes whenever its shape does (`agent/transcript.schema.json`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Literal

from pydantic import BaseModel, Field

from agent.config import Price
from agent.domain import SectionSummary, SessionReport, Turn
from agent.grading.offline import CREDIT
from agent.guardrails import cost_usd
from agent.memory import WeakTopic

TRANSCRIPT_SCHEMA_VERSION: Literal[1] = 1
SCHEMA_FILE = Path(__file__).with_name("transcript.schema.json")
FOLLOW_UP_CREDIT = 0.5
"""A point recalled only after a probe earns half: prompted recall is weaker evidence."""


class SessionFacts(BaseModel):
    """What the store knows about a session besides its turns."""

    session_id: str
    user: str
    format: str
    topics: list[str]
    planned_questions: int
    engine: str
    """Who interviewed and graded: "offline" or the model id."""
    status: str
    started_at: datetime
    ended_at: datetime | None = None
    score: float | None = None


# --- the one score --------------------------------------------------------------------------


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


def session_score(turns: list[Turn]) -> float | None:
    """Mean score over graded main questions; None before the first grade."""
    scores = question_scores(turns)
    return round(mean(scores.values()), 4) if scores else None


# --- the report -----------------------------------------------------------------------------


def section_summaries(turns: list[Turn], scores: dict[int, float]) -> list[SectionSummary]:
    """Per named section, in the order asked; empty unless the session had more than one section."""
    names = list(dict.fromkeys(t.section for t in turns if t.section))
    if len(names) < 2:
        return []
    out = []
    for name in names:
        own = [t for t in turns if t.section == name]
        main = [t for t in own if t.follow_up_of is None]
        graded = [scores[t.seq] for t in main if t.seq in scores]
        seconds = sum((t.answered_at - t.asked_at).total_seconds() for t in own if t.answered_at)
        out.append(SectionSummary(name=name, questions=len(main), score=round(mean(graded), 4) if graded else None,
                                  seconds=round(seconds, 1), planned_s=sum(t.time_budget_s or 0 for t in main)))
    return out


def build_report(facts: SessionFacts, turns: list[Turn]) -> SessionReport:
    scores = question_scores(turns)
    main = {t.seq: t for t in turns if t.follow_up_of is None}
    by_topic: dict[str, list[float]] = defaultdict(list)
    for seq, score in scores.items():
        by_topic[main[seq].topic].append(score)
    to_review = [
        {"question_id": t.question_id, "prompt": t.prompt, "missed": "; ".join(t.grade.gaps),
         "model_answer": t.grade.model_answer}
        for t in turns if t.follow_up_of is None and t.grade and t.grade.gaps
    ]
    return SessionReport(
        session_id=facts.session_id, user=facts.user,
        status="finished" if facts.status == "finished" else "active",
        started_at=facts.started_at, ended_at=facts.ended_at, turns=turns,
        score=session_score(turns), by_topic={k: round(mean(v), 4) for k, v in sorted(by_topic.items())},
        to_review=to_review, sections=section_summaries(turns, scores),
    )


# --- the transcript -------------------------------------------------------------------------


class TranscriptStep(BaseModel):
    """One turn of the transcript with what it cost."""

    turn: Turn
    seconds_taken: float | None = None
    cost_usd: float = 0.0
    tokens: int = 0


class Transcript(SessionFacts):
    """The whole session as one versioned record: what the store knows of it, then every step."""

    schema_version: Literal[1] = 1
    steps: list[TranscriptStep] = Field(default_factory=list)
    cost_usd: float = 0.0
    tokens: int = 0


def build_transcript(facts: SessionFacts, turns: list[Turn], prices: dict[str, Price]) -> Transcript:
    steps = []
    for t in turns:
        taken = (t.answered_at - t.asked_at).total_seconds() if t.answered_at else None
        cost = sum(cost_usd(u, prices) for u in t.usage)
        tokens = sum(u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens for u in t.usage)
        steps.append(TranscriptStep(turn=t, seconds_taken=taken, cost_usd=round(cost, 6), tokens=tokens))
    return Transcript(
        **facts.model_dump(exclude={"score"}),
        score=facts.score if facts.score is not None else session_score(turns),
        steps=steps, cost_usd=round(sum(s.cost_usd for s in steps), 6), tokens=sum(s.tokens for s in steps),
    )


def schema_json() -> str:
    return json.dumps(Transcript.model_json_schema(), indent=2, sort_keys=True) + "\n"


class Backup(BaseModel):
    """Every session of a user as transcripts in one JSON file, restorable exactly."""

    kind: Literal["interview-coach-backup"] = "interview-coach-backup"
    schema_version: Literal[1] = 1
    user: str
    transcripts: list[Transcript]


# --- summaries and progress -----------------------------------------------------------------


class SessionSummary(BaseModel):
    session_id: str
    format: str
    topics: list[str]
    questions: int
    status: str
    score: float | None
    started_at: datetime
    ended_at: datetime | None
    cost_usd: float = 0.0
    answered: int = 0
    """Questions answered (skips and unanswered ones not counted): 0 marks an abandoned session."""


class DueReview(BaseModel):
    question_id: str
    topic: str
    due: datetime


class ScorePoint(BaseModel):
    at: datetime
    topic: str
    score: float


CONFIDENCE: dict[int, float] = {1: 0.0, 2: 0.5, 3: 1.0}
"""A self-rating on the score's scale: 1 didn't know = 0, 2 partly = 0.5, 3 clear and complete = 1."""
CALIBRATED_WITHIN = 0.15
"""A topic whose mean bias stays within this of zero is called calibrated."""


def score_band(score: float) -> int:
    """The grade on the self-rating's 1-3 scale: below a third 1, below two thirds 2, else 3."""
    return 1 if score < 1 / 3 else 2 if score < 2 / 3 else 3


class Calibration(BaseModel):
    """How a candidate's self-ratings compare with their grades on one topic."""

    n: int
    """Rated, graded answers."""
    bias: float
    """Mean of (self-rating as 0 / 0.5 / 1) minus score: positive = overconfident."""
    over: int
    """Answers rated above their grade's band (e.g. rated 3, scored under two thirds)."""
    under: int
    matched: int
    verdict: Literal["overconfident", "underconfident", "calibrated"]


def calibration(rated: list[tuple[str, int, float]]) -> dict[str, Calibration]:
    """Per topic, from (topic, self-rating 1-3, score) of each rated answer."""
    by_topic: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for topic, rating, score in rated:
        by_topic[topic].append((rating, score))
    out = {}
    for topic, pairs in sorted(by_topic.items()):
        bias = round(mean(CONFIDENCE[r] - s for r, s in pairs), 4)
        over = sum(r > score_band(s) for r, s in pairs)
        under = sum(r < score_band(s) for r, s in pairs)
        verdict: Literal["overconfident", "underconfident", "calibrated"] = (
            "overconfident" if bias > CALIBRATED_WITHIN else "underconfident" if bias < -CALIBRATED_WITHIN
            else "calibrated")
        out[topic] = Calibration(n=len(pairs), bias=bias, over=over, under=under, matched=len(pairs) - over - under,
                                 verdict=verdict)
    return out


class Progress(BaseModel):
    user: str
    weak_topics: list[WeakTopic]
    due: list[DueReview]
    history: list[ScorePoint]
    upcoming: list[DueReview] = Field(default_factory=list)
    """Missed questions whose next review is still ahead, soonest first."""
    calibration: dict[str, Calibration] = Field(default_factory=dict)
    """Per topic: self-ratings against grades (see `Calibration`)."""
