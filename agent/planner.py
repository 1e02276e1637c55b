"""Which questions an interview asks: the plan the graph walks through.

Deterministic for a given session id. Questions the user saw recently go last; without a topic
the plan spreads across topics; difficulty rises through the interview.
"""

from __future__ import annotations

import random

from agent.domain import Question
from tools.bank import QuestionBank

SPOKEN_KINDS = ("concept", "rapid_fire")


def plan_questions(
    bank: QuestionBank, session_id: str, n: int, topic: str | None, seen: set[str]
) -> list[str]:
    rng = random.Random(session_id)
    if topic:
        pool = [q for q in bank.questions(topic=topic) if q.kind != "coding"]
    else:
        pool = [q for q in bank.questions() if q.kind in SPOKEN_KINDS]
    rng.shuffle(pool)
    pool.sort(key=lambda q: q.id in seen)  # stable: unseen first, shuffled within each group
    if topic:
        chosen = pool[:n]
    else:
        chosen = _spread(pool, n)
    chosen.sort(key=lambda q: q.difficulty)
    return [q.id for q in chosen]


def _spread(pool: list[Question], n: int) -> list[Question]:
    """Round-robin over topics so a short interview still samples several."""
    by_topic: dict[str, list[Question]] = {}
    for q in pool:
        by_topic.setdefault(q.topic, []).append(q)
    chosen: list[Question] = []
    while len(chosen) < n and any(by_topic.values()):
        for queue in by_topic.values():
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return chosen
