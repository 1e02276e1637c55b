"""Hints nudge toward the point open on screen, never state it, and cost part of its credit."""

from __future__ import annotations

import json
import re

import pytest

from agent.catalog import Catalog
from agent.config import Settings
from agent.grading.text import STOPWORDS
from agent.hints import offline_hint
from agent.service import SessionService
from bots.render_transcript import RENDERERS
from tests.test_anthropic_adapter import RecordedAPI

pytestmark = pytest.mark.anyio
FULL_INDEX = "Lookups avoid a full table scan; writes get slower because the index must be updated; it needs extra storage."


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z][a-z0-9]+", text.lower()))


def giveaways(hint: str, text: str, signals: tuple[str, ...], on_screen: list[str]) -> set[str]:
    """The key point's own words (its text and signals, not on screen, not stopwords) in the hint."""
    visible = set().union(*(words(s) for s in on_screen))
    # a plural or singular of a word on screen is not new ("tools" beside "tool", "step" beside "steps")
    visible |= {w + "s" for w in visible} | {w + "es" for w in visible} | {w[:-1] for w in visible if w.endswith("s")}
    own = {w for w in words(" ".join([text, *signals])) if len(w) >= 4 and w not in STOPWORDS} - visible
    return own & words(hint)


@pytest.mark.parametrize("bank", [None, "mini"])
def test_no_offline_hint_in_the_bank_contains_its_key_points_own_words(bank, mini_bank: Catalog) -> None:
    catalog = mini_bank if bank else Catalog.load()
    checked = 0
    for q in catalog.questions():
        probes = {fu.key_point: fu.prompt for fu in q.follow_ups}
        for kp in q.key_points:
            screens = [[q.prompt]] + ([[q.prompt, probes[kp.id]]] if kp.id in probes else [])
            for screen in screens:
                for attempt in range(2):
                    hint = offline_hint(q, kp, screen, attempt)
                    assert hint.strip() and hint not in screen, (q.id, kp.id)
                    assert not giveaways(hint, kp.text, kp.signals, screen), (q.id, kp.id, hint)
                    checked += 1
    assert checked > (3000 if bank is None else 10)


async def test_a_hint_aims_at_the_follow_up_on_screen_and_costs_half_that_point(coach: SessionService) -> None:
    step = await coach.start("hal", topic="sql", questions=1)
    step = await coach.answer(step.session_id, "hal", "It avoids a full table scan.")
    follow_up = step.prompt
    assert follow_up.is_follow_up
    step = await coach.hint(step.session_id, "hal")
    [hint] = step.hints
    assert "at most half its credit" in hint and follow_up.text not in hint
    assert not giveaways(hint, "slower writes because the index must be updated",
                         ("inserts and updates get slower", "write overhead"), [follow_up.text])
    step = await coach.answer(step.session_id, "hal", "Every insert must also update each index, so writes get slower.")
    [turn] = step.graded
    assert turn.hinted == ["slower_writes"] and turn.probed_key_point == "slower_writes"
    assert turn.grade.score <= 0.5 and any("hinted: slower_writes" in n for n in turn.grade.notes)
    transcript = coach.transcript(step.session_id, "hal")
    for fmt in ("text", "md", "html"):
        assert "slower_writes" in RENDERERS[fmt](transcript) and "(hinted: at most 50%)" in RENDERERS[fmt](transcript)


async def test_a_hinted_main_question_scores_less_than_the_same_answer_unhinted(coach: SessionService) -> None:
    scores = {}
    for user, hinted in (("plain", False), ("nudged", True)):
        step = await coach.start(user, topic="sql", questions=1)
        if hinted:
            step = await coach.hint(step.session_id, user)
        step = await coach.answer(step.session_id, user, FULL_INDEX)
        scores[user] = step.graded[0]
    plain = scores["plain"].grade.score
    assert scores["plain"].hinted == [] and plain > 0.95
    # the heaviest open point was hinted (all weigh 1 here: the first), and it now earns half
    assert scores["nudged"].hinted == ["faster_reads"]
    assert scores["nudged"].grade.score == pytest.approx(plain - 0.5 / 3, abs=0.01)


async def test_a_model_hint_that_states_the_point_is_replaced(settings: Settings, mini_bank: Catalog) -> None:
    leaky = {"text": "Remember: faster lookups, without scanning the whole table.", "probed_key_point": None}
    clean = {"text": "What happens each time a new row arrives in that table?", "probed_key_point": None}
    api = RecordedAPI([leaky, clean])
    async with SessionService.open(settings, llm=api.llm(), catalog=mini_bank) as coach:
        step = await coach.start("ivy", topic="sql", questions=1)
        step = await coach.hint(step.session_id, "ivy")  # aims at faster_reads; the model states it
        assert not giveaways(step.hints[0], "faster lookups without scanning the whole table",
                             ("avoids full table scan", "speeds up queries"), [step.prompt.text])
        assert "at most half" in step.hints[0]
        system = json.dumps(api.requests[0]["system"])
        assert "faster lookups without scanning" in system and "never use its words" in system
        step = await coach.hint(step.session_id, "ivy")  # aims at slower_writes; this one is clean
        assert step.hints[1].startswith(clean["text"])
        assert "slower writes because" in json.dumps(api.requests[1]["system"])


def test_the_banks_own_hint_is_used_and_one_that_gives_the_point_away_is_reported(tmp_path) -> None:
    from agent.catalog.validate import validate_bank

    q = Catalog.load().question("rag.overview")
    point = q.key_point("citations")
    assert offline_hint(q, point, [q.prompt]) == point.hint == "How could a user check where a given sentence came from?"
    (tmp_path / "bank.yaml").write_text(
        "- id: x.one\n  topic: x\n  prompt: What does a database index buy you?\n  model_answer: Faster lookups, "
        "at a cost in storage.\n  key_points:\n    - {id: reads, text: faster lookups without a full scan, "
        "hint: 'What would the database have to do if it had none?'}\n    - {id: disk, text: extra storage space, "
        "hint: 'Think about the extra storage it needs.'}\n"
        "  follow_ups: [{key_point: disk, prompt: 'What does it cost?'}]\n")
    problems = validate_bank(tmp_path)
    assert problems == ["x.one: the hint for disk uses the point's own words; reword it as a question that leads "
                        "there without stating it"]
