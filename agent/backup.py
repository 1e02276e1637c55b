"""Backups: every session of a user as transcripts in one JSON file, restorable exactly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from agent.config import Price
from agent.guardrails import cost_usd
from agent.store.repository import Store
from agent.transcript import TRANSCRIPT_SCHEMA_VERSION, Transcript, transcript_for


class Backup(BaseModel):
    kind: Literal["interview-coach-backup"] = "interview-coach-backup"
    schema_version: Literal[1] = TRANSCRIPT_SCHEMA_VERSION
    user: str
    transcripts: list[Transcript]


def export_user(store: Store, user: str, prices: dict[str, Price]) -> Backup:
    rows = sorted(store.sessions_of(user, limit=100_000), key=lambda r: r.started_at)
    return Backup(user=user, transcripts=[transcript_for(store, r.id, user, prices) for r in rows])


def import_backup(store: Store, backup: Backup, prices: dict[str, Price]) -> tuple[int, int]:
    """(sessions restored, sessions skipped because they already exist). Memory is rebuilt too."""
    restored = skipped = 0
    for t in backup.transcripts:
        created = store.restore_session(backup.user, t.session_id, t.format, t.topics, t.planned_questions,
                                        t.engine, t.status, t.started_at, t.ended_at, t.score)
        if not created:
            skipped += 1
            continue
        store.record_turns(t.session_id, backup.user, [s.turn for s in t.steps], price=lambda u: cost_usd(u, prices))
        restored += 1
    return restored, skipped
