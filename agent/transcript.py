"""Graded session transcripts: the whole session as one versioned, replayable record.

`transcript_for` builds it from the store; every front-end (terminal replay, exports, the MCP
transcript resource, Telegram /replay) renders this same object. `TRANSCRIPT_SCHEMA_VERSION`
changes whenever the shape does; `agent/transcript.schema.json` is its JSON Schema.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agent.config import Price
from agent.domain import Turn
from agent.guardrails import cost_usd
from agent.report import question_scores
from agent.store.repository import Store

TRANSCRIPT_SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("transcript.schema.json")


class Step(BaseModel):
    """One turn of the transcript with what it cost."""

    turn: Turn
    seconds_taken: float | None = None
    cost_usd: float = 0.0
    tokens: int = 0


class Transcript(BaseModel):
    schema_version: Literal[1] = TRANSCRIPT_SCHEMA_VERSION
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
    steps: list[Step] = Field(default_factory=list)
    cost_usd: float = 0.0
    tokens: int = 0


def transcript_for(store: Store, session_id: str, user: str, prices: dict[str, Price]) -> Transcript:
    """The session's transcript; another user's session is NotFound, as everywhere."""
    row = store.session(session_id, user)
    turns = store.turns(session_id)
    steps = []
    for t in turns:
        taken = (t.answered_at - t.asked_at).total_seconds() if t.answered_at else None
        cost = sum(cost_usd(u, prices) for u in t.usage)
        tokens = sum(u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens for u in t.usage)
        steps.append(Step(turn=t, seconds_taken=taken, cost_usd=round(cost, 6), tokens=tokens))
    scores = question_scores(turns)
    return Transcript(
        session_id=row.id, user=user, format=row.format, topics=list(row.topics),
        planned_questions=row.planned_questions, engine=row.engine,
        status=row.status, started_at=row.started_at, ended_at=row.ended_at,
        score=row.score if row.score is not None else (round(sum(scores.values()) / len(scores), 4) if scores else None),
        steps=steps, cost_usd=round(sum(s.cost_usd for s in steps), 6), tokens=sum(s.tokens for s in steps),
    )


def schema_json() -> str:
    import json

    return json.dumps(Transcript.model_json_schema(), indent=2, sort_keys=True) + "\n"
