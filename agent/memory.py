"""Per-user memory of weak topics: spaced repetition per question, mastery per topic, and the
policy that picks the next question from it. Pure functions over plain values; the store keeps
the state and the interviewer asks `choose_question`.

- Each graded main answer reviews the question's FSRS card with the grade's rating (1-4 maps
  straight onto Again / Hard / Good / Easy), so a missed question comes back soon and a mastered
  one drifts out to weeks.
- Topic mastery is a recent-weighted average of scores: early answers count fully, later ones
  move the estimate by a fixed share, so it follows the candidate as they improve.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fsrs import Card, Rating, Scheduler

from agent.domain import Question

RECENT_WEIGHT = 0.3
"""Once a topic has a few answers, each new score moves mastery by this share."""
WEAK_BELOW = 0.6
MAX_PER_WEAK_TOPIC = 2
"""A weak topic leads the selection for at most this many questions of one session."""
SELF_RATED_AGAIN = timedelta(days=1)
"""A question the candidate rated 1 ("didn't know") comes back no later than this."""
_scheduler = Scheduler(enable_fuzzing=False)


# --- spaced repetition -------------------------------------------------------------------------


def review(card: dict[str, Any] | None, rating: int, at: datetime) -> dict[str, Any]:
    """The card after a review with `rating` at `at` (a new card when `card` is None)."""
    current = Card.from_dict(card) if card else Card(card_id=1, due=at)  # type: ignore[arg-type]  # card_id given: no sleep
    updated, _log = _scheduler.review_card(current, Rating(rating), review_datetime=at)
    return dict(updated.to_dict())


def due_at(card: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(card["due"])


# --- topic mastery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicMastery:
    topic: str
    mastery: float
    evidence: int
    lapses: int


def next_mastery(previous: float | None, evidence: int, score: float) -> float:
    """Recent-weighted mean: the first answers average, later ones move it by RECENT_WEIGHT."""
    if previous is None:
        return score
    weight = max(1 / (evidence + 1), RECENT_WEIGHT)
    return previous + (score - previous) * weight


@dataclass(frozen=True)
class WeakTopic:
    topic: str
    mastery: float
    evidence: int
    lapses: int
    due: int
    weakness: float
    reason: str


def weak_topics(mastery: Iterable[TopicMastery], due_by_topic: Counter[str]) -> list[WeakTopic]:
    """Topics ranked weakest first, each with the reason it is on the list."""
    ranked = []
    for m in mastery:
        confidence = m.evidence / (m.evidence + 2)  # one answer is weak evidence
        weakness = (1 - m.mastery) * confidence + 0.05 * m.lapses + 0.02 * due_by_topic[m.topic]
        if m.mastery >= WEAK_BELOW and not m.lapses and not due_by_topic[m.topic]:
            continue
        parts = [f"mastery {m.mastery:.0%} over {m.evidence} graded answer{'s' * (m.evidence != 1)}"]
        if m.lapses:
            parts.append(f"{m.lapses} lapse{'s' * (m.lapses != 1)} (forgot after knowing it)")
        if due_by_topic[m.topic]:
            parts.append(f"{due_by_topic[m.topic]} review{'s' * (due_by_topic[m.topic] != 1)} due")
        ranked.append(WeakTopic(m.topic, m.mastery, m.evidence, m.lapses, due_by_topic[m.topic],
                                round(weakness, 4), "; ".join(parts)))
    return sorted(ranked, key=lambda w: (-w.weakness, w.topic))


# --- question selection ------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """What selection needs to know about one user, read from the store in one go."""

    due: tuple[str, ...] = ()
    """Question ids whose review is due, most overdue first."""
    seen: frozenset[str] = frozenset()
    mastery: tuple[TopicMastery, ...] = ()


@dataclass(frozen=True)
class Choice:
    question: Question
    reason: str
    """"review due", "weak topic", "new material" or "any": why this question came next."""


def target_difficulty(start: int, last_score: float | None) -> int:
    """Step up after a strong answer, down after a weak one, within 1-3."""
    if last_score is None:
        return start
    if last_score >= 0.85:
        return min(3, start + 1)
    if last_score < 0.4:
        return max(1, start - 1)
    return start


def starting_difficulty(mastery: float | None) -> int:
    if mastery is None or mastery < 0.4:
        return 1 if mastery is not None else 2
    return 3 if mastery >= 0.8 else 2


def choose_question(
    candidates: list[Question],
    memory: Memory,
    asked: Iterable[str],
    difficulty: int,
    salt: str,
) -> Choice | None:
    """Due reviews first, then the weakest topics, then new material; never a repeat in a session.

    Within a group the question closest to `difficulty` wins; `salt` (the session id) breaks ties
    so different sessions vary while one session is reproducible.
    """
    asked = set(asked)
    pool = [q for q in candidates if q.id not in asked]
    if not pool:
        return None
    by_id = {q.id: q for q in pool}
    asked_topics = Counter(q.topic for q in candidates if q.id in asked)

    def best(group: list[Question]) -> Question:
        return min(group, key=lambda q: (abs(q.difficulty - difficulty), asked_topics[q.topic], _jitter(salt, q.id)))

    due = [by_id[qid] for qid in memory.due if qid in by_id]
    if due:
        return Choice(due[0], "review due")
    pool_topics = {q.topic for q in pool}
    weak = [
        w.topic
        for w in weak_topics(memory.mastery, Counter())
        if w.topic in pool_topics and asked_topics[w.topic] < MAX_PER_WEAK_TOPIC
    ]
    if weak:
        topic = min(weak, key=lambda t: (asked_topics[t], weak.index(t)))
        group = [q for q in pool if q.topic == topic]
        unseen = [q for q in group if q.id not in memory.seen]
        return Choice(best(unseen or group), "weak topic")
    new = [q for q in pool if q.id not in memory.seen]
    if new:
        return Choice(best(new), "new material")
    return Choice(best(pool), "any")


def _jitter(salt: str, question_id: str) -> str:
    return hashlib.blake2s(f"{salt}:{question_id}".encode(), digest_size=4).hexdigest()
