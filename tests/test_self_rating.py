"""Self-rating and calibration: the candidate says how sure they were before the grade, and every
surface (service, CLI, Telegram, MCP, replays) keeps it and compares it with the grade."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from mcp import Client
from telegram import Update

from agent.catalog import Catalog
from agent.config import Settings
from agent.errors import AnswerRejected
from agent.records import calibration
from agent.service import SessionService
from bots.render_transcript import RENDERERS
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI
from mcp_server.server import build_server
from tests.conftest import MINI_BANK
from tests.test_cli import coach as run_coach

pytestmark = pytest.mark.anyio
FULL_INDEX = "Lookups avoid a full table scan; writes get slower because the index must be updated; it needs extra storage."


def test_bias_is_self_rating_on_the_score_scale_minus_the_score() -> None:
    cal = calibration([("sql", 3, 0.1), ("sql", 3, 0.3), ("rag", 1, 0.9), ("rag", 2, 0.5), ("py", 2, 0.55)])
    assert cal["sql"].bias == pytest.approx(0.8) and cal["sql"].verdict == "overconfident"
    assert (cal["sql"].n, cal["sql"].over, cal["sql"].under, cal["sql"].matched) == (2, 2, 0, 0)
    assert cal["rag"].bias == pytest.approx(-0.45) and cal["rag"].verdict == "underconfident"
    assert (cal["rag"].over, cal["rag"].under, cal["rag"].matched) == (0, 1, 1)
    assert cal["py"].verdict == "calibrated"


async def test_ratings_are_stored_and_a_1_brings_the_question_back_tomorrow(coach: SessionService) -> None:
    # the same full answer: unrated it is reviewed in days, rated 1 ("didn't know") tomorrow at the latest
    dates = {}
    for user, confidence in (("sure", None), ("unsure", 1)):
        step = await coach.start(user, topic="sql", questions=1)
        step = await coach.answer(step.session_id, user, FULL_INDEX, confidence=confidence)
        [turn] = step.graded
        assert turn.self_rating == confidence and turn.grade.score > 0.8
        assert coach.store.turns(step.session_id)[0].self_rating == confidence
        dates[user] = (turn.answered_at, coach.store.review_dates(user, ["sql.index"])["sql.index"])
    answered, due = dates["unsure"]
    assert due <= answered + timedelta(days=1)
    answered, due = dates["sure"]
    assert due > answered + timedelta(days=1)
    with pytest.raises(AnswerRejected, match="1 \\(didn't know\\), 2 \\(partly\\) or 3"):
        await coach.answer(step.session_id, "sure", "x", confidence=4)


async def test_a_rating_given_after_grading_is_recorded_and_shown_in_every_replay(coach: SessionService) -> None:
    step = await coach.start("rae", topic="sql", questions=1)
    step = await coach.answer(step.session_id, "rae", "I don't know.")
    [turn] = step.graded
    rated = await coach.rate(step.session_id, "rae", turn.seq, 3)
    assert rated.self_rating == 3 and rated.grade == turn.grade
    with pytest.raises(Exception, match="no answered question #99"):
        await coach.rate(step.session_id, "rae", 99, 2)
    with pytest.raises(Exception, match="no session"):
        await coach.rate(step.session_id, "mallory", turn.seq, 2)
    transcript = coach.transcript(step.session_id, "rae")
    assert transcript.steps[0].turn.self_rating == 3
    for fmt in ("text", "md", "html"):
        assert "self-rated 3 (clear and complete)" in RENDERERS[fmt](transcript), fmt
    assert json.loads(RENDERERS["json"](transcript))["steps"][0]["turn"]["self_rating"] == 3
    progress = coach.progress("rae")
    assert progress.calibration["sql"].verdict == "overconfident" and progress.calibration["sql"].n == 1


@pytest.mark.slow
def test_piped_self_rate_stores_ratings_and_progress_json_shows_overconfidence(coach_home: Path) -> None:
    env = {"COACH_BANK_DIR": str(MINI_BANK)}
    # each answer is followed by its rating line; "maybe" is not a rating: said once, answer kept unrated
    stdin = "I don't know.\n3\nNo idea, sorry.\n3\nI am not sure.\nmaybe\n/end\n"
    run = run_coach("interview", "--offline", "-n", "2", "--topic", "caching", "--self-rate", "--user", "kim",
                    stdin=stdin, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("you rated it 3 (clear and complete)") == 2
    assert "'maybe' is not a self-rating" in run.stdout and "\x1b[" not in run.stdout  # piped: no ANSI at all
    out = run_coach("progress", "--user", "kim", "--json", env=env)
    assert out.returncode == 0, out.stderr
    cal = json.loads(out.stdout)["calibration"]
    assert cal["caching"]["n"] == 2 and cal["caching"]["bias"] > 0.5 and cal["caching"]["verdict"] == "overconfident"
    table = run_coach("progress", "--user", "kim", env=env)
    assert "Calibration" in table.stdout and "overconfident" in table.stdout
    assert (coach_home / "calibration-kim.png").read_bytes()[:4] == b"\x89PNG"
    # without --self-rate, piped lines are all answers: nothing is rated
    run = run_coach("interview", "--offline", "-n", "1", "--topic", "sql", "--user", "lee", stdin="3\n/end\n", env=env)
    assert "you rated it" not in run.stdout
    assert json.loads(run_coach("progress", "--user", "lee", "--json", env=env).stdout)["calibration"] == {}


async def test_telegram_asks_before_the_grade_and_progress_shows_overconfidence(
    settings: Settings, mini_bank: Catalog,
) -> None:
    chat = 611
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        errors: list[BaseException] = []

        async def record(update, context) -> None:
            errors.append(context.error)

        async def send(app, update: dict) -> list:
            before = len(api.sent)
            await app.process_update(Update.de_json(update, app.bot))
            return [s for s in api.sent[before:] if s.method == "sendMessage"]

        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        app.add_error_handler(record)
        async with app:
            [settings_msg] = await send(app, api.text_update(chat, "/settings"))
            assert "Self-rating: off" in settings_msg.text
            assert "Self-rating is on" in (await send(app, api.callback_update(chat, "selfrate:1")))[0].text
            await send(app, api.text_update(chat, "/interview sql"))
            [ask] = await send(app, api.text_update(chat, "I don't know."))
            assert ask.text.startswith("How sure are you?") and "Score" not in ask.text  # no grade yet
            buttons = [b["callback_data"] for row in ask.params["reply_markup"]["inline_keyboard"] for b in row]
            assert [b.rsplit(":", 1)[1] for b in buttons] == ["1", "2", "3", "0"]
            # a new answer before the rating is refused with what to do
            assert "First tap how sure" in (await send(app, api.text_update(chat, "more words")))[0].text
            shown = await send(app, api.callback_update(chat, buttons[2]))
            assert shown[0].text.startswith("<b>Score 0%</b>") and "you rated it 3 (clear and complete)" in shown[0].text
            assert any("Question" in m.text or "Follow-up" in m.text or "Interview over" in m.text for m in shown[1:])
            assert await send(app, api.callback_update(chat, buttons[2])) == []  # a second tap shows nothing new

        # the bot restarts between the answer and the tap: the saved grade is shown once rated
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        app.add_error_handler(record)
        async with app:
            [ask] = await send(app, api.text_update(chat, "No idea."))
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        app.add_error_handler(record)
        async with app:
            button = ask.params["reply_markup"]["inline_keyboard"][0][2]["callback_data"]
            shown = await send(app, api.callback_update(chat, button))
            assert "you rated it 3" in shown[0].text
            before = len(api.sent)
            await app.process_update(Update.de_json(api.text_update(chat, "/progress"), app.bot))
            texts = [s.text for s in api.sent[before:] if s.method == "sendMessage"]
            photos = [s for s in api.sent[before:] if s.method == "sendPhoto"]
            assert any("sql: overconfident, bias +" in t and "over 2 answer(s)" in t for t in texts)
            assert len(photos) == 2 and photos[1].params["caption"].startswith("Calibration")
        assert errors == []


async def test_mcp_answer_takes_a_confidence_and_weak_topics_reports_calibration(
    coach_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COACH_BANK_DIR", str(MINI_BANK))
    async with Client(build_server(Settings(), user="ada", offline=True), raise_exceptions=True) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "answer")
        schema = json.dumps(tool.input_schema["properties"]["confidence"])
        assert '"maximum": 3' in schema and '"minimum": 1' in schema and "didn't know" in schema
        sid = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content["session_id"]
        step = (await client.call_tool("answer", {"session_id": sid, "answer": "No idea.", "confidence": 3})).structured_content
        assert step["graded"][0]["self_rating"] == 3
        progress = (await client.call_tool("weak_topics", {})).structured_content
        assert progress["calibration"]["sql"]["verdict"] == "overconfident" and progress["calibration"]["sql"]["n"] == 1
    async with Client(build_server(Settings(), user="ada", offline=True)) as client:
        sid = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content["session_id"]
        bad = await client.call_tool("answer", {"session_id": sid, "answer": "x", "confidence": 7})
        assert bad.is_error
