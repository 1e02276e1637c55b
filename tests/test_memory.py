"""Spaced repetition, weak topics and question selection: pure policy, then through the service."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from agent.catalog import Catalog
from agent.config import Settings
from agent.memory import (
    Memory,
    TopicMastery,
    choose_question,
    due_at,
    next_mastery,
    review,
    target_difficulty,
    weak_topics,
)
from agent.service import SessionService

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def intervals(ratings: list[int]) -> list[timedelta]:
    card, at, out = None, T0, []
    for rating in ratings:
        card = review(card, rating, at)
        out.append(due_at(card) - at)
        at = due_at(card)  # review exactly when due
    return out


def test_good_answers_push_reviews_out_and_a_miss_brings_them_back() -> None:
    good = intervals([3, 3, 3, 3, 3])
    assert good[0] <= timedelta(minutes=10)  # learning step
    assert good[2] >= timedelta(days=1) and good[4] > good[3] > good[2]  # intervals grow
    lapse = intervals([3, 3, 3, 3, 1])
    assert lapse[-1] <= timedelta(minutes=10) < good[-1]  # forgotten: back within minutes
    assert intervals([4])[0] > intervals([3])[0] > intervals([1])[0]  # easy > good > again


def test_mastery_is_recent_weighted() -> None:
    m = None
    for evidence, score in enumerate([0.0, 0.0, 1.0, 1.0, 1.0]):
        m = next_mastery(m, evidence, score)
    assert 0.5 < m < 1.0  # recent strong answers dominate but the history still counts
    assert next_mastery(0.2, 10, 1.0) == pytest.approx(0.2 + 0.8 * 0.3)


def test_weak_topics_rank_by_weakness_and_evidence_with_reasons() -> None:
    ranked = weak_topics(
        [TopicMastery("sql", 0.2, 8, 1), TopicMastery("rag", 0.2, 1, 0), TopicMastery("python", 0.9, 9, 0),
         TopicMastery("agents", 0.5, 4, 0)],
        Counter({"agents": 2}),
    )
    assert [w.topic for w in ranked] == ["sql", "agents", "rag"]  # python is not weak
    assert "mastery 20% over 8 graded answers" in ranked[0].reason and "1 lapse" in ranked[0].reason
    assert "2 reviews due" in ranked[1].reason


def test_selection_due_then_weak_then_new_without_repeats(mini_bank: Catalog) -> None:
    qs = mini_bank.questions()
    memory = Memory(
        due=("caching.kv_cache",),
        seen=frozenset({"caching.kv_cache", "sql.index"}),
        mastery=(TopicMastery("sql", 0.1, 3, 0), TopicMastery("caching", 0.9, 3, 0)),
    )
    first = choose_question(qs, memory, asked=[], difficulty=2, salt="s")
    second = choose_question(qs, memory, asked=[first.question.id], difficulty=2, salt="s")
    third = choose_question(qs, memory, asked=[first.question.id, second.question.id], difficulty=2, salt="s")
    assert [(c.question.id, c.reason) for c in (first, second, third)] == [
        ("caching.kv_cache", "review due"), ("sql.index", "weak topic"), ("caching.lru", "new material")]
    assert choose_question(qs, memory, asked=[q.id for q in qs], difficulty=2, salt="s") is None


def test_difficulty_steps_with_the_answers(mini_bank: Catalog) -> None:
    assert [target_difficulty(2, s) for s in (None, 0.9, 0.2, 0.6)] == [2, 3, 1, 2]
    assert target_difficulty(3, 1.0) == 3 and target_difficulty(1, 0.0) == 1
    caching = mini_bank.questions(topic="caching")  # lru is difficulty 1, kv_cache 2
    assert choose_question(caching, Memory(), [], difficulty=1, salt="x").question.id == "caching.lru"
    assert choose_question(caching, Memory(), [], difficulty=3, salt="x").question.id == "caching.kv_cache"




@pytest.mark.anyio
async def test_a_missed_question_comes_back_first_next_session_and_memory_is_per_user(
    settings: Settings, mini_bank: Catalog
) -> None:
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        step = await coach.start("ann", topic="caching", questions=1)
        missed = step.prompt.question_id
        step = await coach.skip(step.session_id, "ann")
        assert step.finished
    # a new process: memory comes from the database
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        progress = coach.progress("ann")
        assert [d.question_id for d in progress.due] == []  # due in a few minutes, not yet
        later = datetime.now(UTC) + timedelta(hours=1)
        assert coach.store.memory_of("ann", now=later).due == (missed,)
        assert coach.store.memory_of("bob", now=later).due == ()  # strictly per user
        assert [w.topic for w in progress.weak_topics] == ["caching"]
        assert progress.history[0].score == 0.0 and progress.history[0].topic == "caching"


@pytest.mark.anyio
async def test_follow_ups_aim_at_the_point_this_candidate_keeps_missing(settings: Settings, mini_bank: Catalog) -> None:
    kv = Catalog([mini_bank.question("caching.kv_cache")])
    neither = "It reuses keys and values of earlier tokens."
    async with SessionService.open(settings, offline=True, catalog=kv) as coach:
        fresh = await coach.start("cat", questions=1)
        fresh = await coach.answer(fresh.session_id, "cat", neither)
        assert fresh.prompt.text.startswith("What does keeping that cache cost")  # heaviest point first
        await coach.end(fresh.session_id, "cat")

        other = await coach.start("dan", questions=1)
        other = await coach.answer(other.session_id, "dan", "It reuses keys and values; memory grows with sequence length.")
        assert other.prompt.text.startswith("How does the per-token work change")
        await coach.end(other.session_id, "dan")  # the probe is left open: an ungraded turn

        again = await coach.start("dan", questions=1)
        again = await coach.answer(again.session_id, "dan", neither)
        # dan missed "speed" before, so it is probed ahead of the heavier "memory"
        assert again.prompt.text.startswith("How does the per-token work change")
