"""The bot on the real python-telegram-bot stack over an in-memory Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Update
from telegram.ext import Application

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService
from bots.telegram.bot import COMMANDS, build_application, register_commands
from bots.telegram.fake_api import FakeBotAPI
from bots.telegram.render import LIMIT, split_message, utf16_len

pytestmark = pytest.mark.anyio
ADA = 501


class Harness:
    def __init__(self, app: Application, api: FakeBotAPI) -> None:
        self.app, self.api, self.errors = app, api, []

    async def send(self, update: dict) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))  # runs the handlers to the end

    async def text(self, text: str, chat: int = ADA, **kw) -> list[str]:
        before = len(self.api.sent)
        await self.send(self.api.text_update(chat, text, **kw))
        return [s.text for s in self.api.sent[before:] if s.method == "sendMessage"]


@pytest.fixture
async def bot(settings: Settings, mini_bank: Catalog) -> AsyncIterator[Harness]:
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        harness = Harness(app, api)

        async def record(update, context) -> None:
            harness.errors.append(context.error)

        app.add_error_handler(record)
        async with app:
            await register_commands(app)
            yield harness
        assert harness.errors == [], f"the error handler was reached: {harness.errors!r}"


async def test_a_full_interview_in_a_chat(bot: Harness) -> None:
    assert [c["command"] for c in bot.api.commands] == [name for name, _ in COMMANDS]
    intro = await bot.text("/start")
    assert "mock interviews" in intro[0]
    [question] = await bot.text("/interview sql")
    assert "<b>Question 1/" in question and "What does a database index buy you" in question
    replies = await bot.text("An index avoids a full table scan, so lookups are faster.")
    assert replies[0].startswith("<b>Score 33%</b>") and "✅ faster reads" in replies[0]
    assert "What happens to inserts" in replies[1]  # the follow-up probe
    replies = await bot.text("Inserts get slower because every index must be updated too.")
    assert replies[0].startswith("<b>Score 100%</b>")
    report = "\n".join(replies)
    assert "Question 2/" in report or "Interview over" in report


async def test_every_command_answers(bot: Harness) -> None:
    assert "No interview is running" in (await bot.text("/hint"))[0]
    assert "No graded answers yet" in (await bot.text("/progress"))[0]
    assert "/interview" in (await bot.text("/help"))[0]
    for command in ("/rapid", "/design", "/behavioural", "/code", "/mock"):
        replies = await bot.text(command)
        assert replies, command  # each format starts (or says there is nothing to ask)
    assert "resume or start over" in (await bot.text("/interview caching"))[0]  # the mock is running
    await bot.send(bot.api.callback_update(ADA, "running:over"))
    assert "💡" in (await bot.text("/hint"))[0]
    skipped = await bot.text("/skip")
    assert skipped[0].startswith("⏭ Skipped")
    ended = await bot.text("/end")
    assert any("Interview over" in r for r in ended)
    await bot.text("/interview sql")
    await bot.text("Lookups avoid a full scan; writes get slower; it needs extra storage.")
    before = len(bot.api.sent)
    await bot.send(bot.api.text_update(ADA, "/progress"))
    photo = [s for s in bot.api.sent[before:] if s.method == "sendPhoto"]
    assert photo and next(iter(photo[0].files.values()))[:8] == b"\x89PNG\r\n\x1a\n"


async def test_history_and_replay_send_the_transcript(bot: Harness) -> None:
    assert "No sessions yet" in (await bot.text("/history"))[0]
    await bot.text("/interview sql")
    await bot.text("It avoids a full table scan.")
    await bot.text("/end")
    history = await bot.text("/history")
    assert history[0].startswith("<b>Your sessions</b>") and "1. " in history[0] and "sql" in history[0]
    before = len(bot.api.sent)
    await bot.send(bot.api.text_update(ADA, "/replay 1"))
    sent = bot.api.sent[before:]
    assert any("sql.index: 33%" in s.text for s in sent if s.method == "sendMessage")
    [doc] = [s for s in sent if s.method == "sendDocument"]
    page = next(iter(doc.files.values())).decode()
    assert page.startswith("<!doctype html>") and "What does a database index buy you" in page
    assert "No such session" in (await bot.text("/replay 9"))[0]
    assert "No such session" in (await bot.text("/replay 1", chat=777))[0]  # another user sees nothing


async def test_a_code_answer_as_a_py_document_is_run_against_hidden_tests(settings: Settings) -> None:

    async with SessionService.open(settings, offline=True, catalog=Catalog.load()) as coach:
        api = FakeBotAPI()
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        async with app:
            h = Harness(app, api)
            [question] = await h.text("/code")
            assert "Live coding" in question and "Starter:" in question
            session = coach.latest_active(f"tg:{ADA}")
            waiting = (await coach.resume(session, f"tg:{ADA}")).prompt.question_id
            solution = Catalog.load().challenge(coach.catalog.question(waiting).challenge).reference_solution
            replies = await h.text(solution)
    assert replies[0].startswith("<b>Score 100%</b>") and "passed" in replies[0]


async def test_settings_choose_difficulty_and_default_topic(bot: Harness) -> None:
    assert "Difficulty: adaptive. Default topic: any." in (await bot.text("/settings"))[0]
    for data, expected in (("difficulty:1", "Difficulty: easy"), ("prefer:caching", "default topic: caching")):
        before = len(bot.api.sent)
        await bot.send(bot.api.callback_update(ADA, data))
        assert any(expected in s.text for s in bot.api.sent[before:])
    [question] = await bot.text("/interview")
    assert "caching" in question and "How would you explain an LRU cache" in question  # easy first, on caching
    before = len(bot.api.sent)
    await bot.send(bot.api.callback_update(ADA, "prefer:"))
    assert any("default topic: any" in s.text for s in bot.api.sent[before:])


async def test_buttons_start_an_interview(bot: Harness) -> None:
    before = len(bot.api.sent)
    await bot.send(bot.api.callback_update(ADA, "topic:sql"))
    texts = [s.text for s in bot.api.sent[before:] if s.method == "sendMessage"]
    assert any("What does a database index" in t for t in texts)
    assert any(s.method == "answerCallbackQuery" for s in bot.api.sent[before:])


async def test_non_text_edits_and_groups_get_polite_replies(bot: Harness) -> None:
    for kind, expected in (("sticker", "please type"), ("photo", "please type"), ("voice", "voice notes"),
                           ("document", ".py files")):
        before = len(bot.api.sent)
        await bot.send(bot.api.media_update(ADA, kind))
        assert expected in bot.api.sent[before].text, kind
    before = len(bot.api.sent)
    await bot.send(bot.api.edited_update(ADA, "a better answer"))
    assert "first sent" in bot.api.sent[before].text
    assert "private chats" in (await bot.text("/interview", chat=-100, user_id=ADA, chat_type="group"))[0]


async def test_a_duplicated_update_is_processed_once(bot: Harness) -> None:
    await bot.text("/interview sql")
    update = bot.api.text_update(ADA, "It avoids a full table scan.", update_id=777)
    await bot.send(update)
    count = len(bot.api.replies(ADA))
    await bot.send(update)
    assert len(bot.api.replies(ADA)) == count  # nothing said twice
    assert len([s for s in bot.api.sent if s.text.startswith("<b>Score")]) == 1


async def test_two_users_interleaved_never_cross(bot: Harness) -> None:
    bob = 602
    await bot.text("/interview sql")
    await bot.text("/interview caching", chat=bob)
    ada_reply = await bot.text("Lookups avoid a full scan.")
    bob_reply = await bot.text("It evicts the least recently used entry when full.", chat=bob)
    assert "faster reads" in ada_reply[0] and "evict" not in ada_reply[0] and "reuse" not in ada_reply[0]
    assert ("evict" in bob_reply[0] or "reuse" in bob_reply[0]) and "faster reads" not in bob_reply[0]
    assert all(s.chat_id in (ADA, bob) for s in bot.api.sent if "chat_id" in s.params)


async def test_restart_mid_interview_continues(settings: Settings, mini_bank: Catalog) -> None:
    api = FakeBotAPI()
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        async with app:
            h = Harness(app, api)
            await h.text("/interview sql")
    # a new process: new service, new application, same database and checkpoints
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        async with app:
            h = Harness(app, api)
            replies = await h.text("An index avoids a full table scan.")
    assert replies[0].startswith("<b>Score") and "What happens to inserts" in replies[1]


def test_long_messages_split_at_lines_within_the_utf16_limit() -> None:
    emoji_line = "✅ " + "😀" * 3000  # 2 UTF-16 units per emoji
    html = "\n".join(["<b>head</b>", emoji_line, "tail &amp; more " * 400])
    chunks = split_message(html)
    assert all(utf16_len(c) <= LIMIT for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks).replace(" ", "") == html.replace("\n", "").replace(" ", "")
    assert all(c.count("&amp;") == c.count("&") for c in chunks)  # no entity cut in half


async def test_time_is_up_reminder_for_the_waiting_question(bot: Harness) -> None:
    assert "nothing for a rapid-fire screen yet" in (await bot.text("/rapid"))[0]  # the fixture bank has none
    await bot.text("/interview sql")
    [job] = bot.app.job_queue.get_jobs_by_name(f"remind:{ADA}")
    assert job.data["minutes"] == 4  # the concept format gives 240 s a question
    context = type("Ctx", (), {"job": job, "bot": bot.app.bot})()
    before = len(bot.api.sent)
    await job.callback(context)
    assert "Time is up" in bot.api.sent[before].text and "still graded" in bot.api.sent[before].text
    await bot.text("It avoids a full table scan.")  # answered: the old reminder is gone
    assert all(j.data["seq"] != job.data["seq"] for j in bot.app.job_queue.get_jobs_by_name(f"remind:{ADA}"))
    before = len(bot.api.sent)
    await job.callback(context)  # a stale reminder says nothing
    assert len(bot.api.sent) == before


async def _typing_actions(settings: Settings, mini_bank: Catalog, typing_after: float, answer_takes: float) -> int:
    """How many typing indicators one graded answer sends, when the reply takes `answer_takes` s."""
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        app = build_application(coach, token="123:test", request=api, rate_limit=False, typing_after=typing_after)
        async with app:
            await app.process_update(Update.de_json(api.text_update(ADA, "/interview sql"), app.bot))
            answer = coach.answer

            async def slow_answer(*args, **kwargs):
                await asyncio.sleep(answer_takes)
                return await answer(*args, **kwargs)

            coach.answer = slow_answer  # type: ignore[method-assign]
            await app.process_update(Update.de_json(api.text_update(ADA, "An index avoids a scan."), app.bot))
            assert api.replies(ADA)[-1].text  # the reply came
        return sum(s.method == "sendChatAction" for s in api.sent)


async def test_a_slow_reply_shows_typing_once(settings: Settings, mini_bank: Catalog) -> None:
    # The indicator is due at once and the reply is still being prepared: exactly one indicator.
    assert await _typing_actions(settings, mini_bank, typing_after=0.0, answer_takes=0.05) == 1


async def test_a_fast_reply_shows_no_typing(settings: Settings, mini_bank: Catalog) -> None:
    # The reply is ready long before the indicator would be due: no Bot API call is spent on it.
    assert await _typing_actions(settings, mini_bank, typing_after=3600.0, answer_takes=0.0) == 0
