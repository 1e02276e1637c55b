"""Telegram done right, on the real python-telegram-bot stack over the in-memory Bot API (which rejects
invalid HTML the way Telegram does): long reports, groups, unknown commands, resume-or-start-over,
merged messages, readable chart titles, abandoned sessions and voice answers."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from telegram import Update
from telegram.ext import Application

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService
from bots.speech import Transcriber
from bots.telegram import bot as telegram_bot
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI, parse_html
from bots.telegram.render import LIMIT, report_html, utf16_len

pytestmark = pytest.mark.anyio
ADA = 501
GROUP = -100


class Harness:
    def __init__(self, app: Application, api: FakeBotAPI, coach: SessionService) -> None:
        self.app, self.api, self.coach, self.errors = app, api, coach, []

    async def send(self, update: dict) -> list[str]:
        before = len(self.api.sent)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        return [s.text for s in self.api.sent[before:] if s.method == "sendMessage"]

    async def text(self, text: str, chat: int = ADA, **kw) -> list[str]:
        return await self.send(self.api.text_update(chat, text, **kw))

    async def tap(self, data: str, message_id: int | None = None, chat: int = ADA, **kw) -> list[str]:
        return await self.send(self.api.callback_update(chat, data, message_id=message_id, **kw))

    async def replies_until(self, predicate, timeout: float = 60.0) -> list[str]:
        """Wait (generously) for a reply the bot sends on its own, e.g. after the merge window."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            texts = [s.text for s in self.api.replies(ADA)]
            if predicate(texts):
                return texts
            await asyncio.sleep(0.02)
        raise AssertionError(f"no such reply in {timeout} s: {[s.text for s in self.api.replies(ADA)][-5:]}")


@pytest.fixture
def harness_for(settings: Settings, mini_bank: Catalog):
    async def make(running: bool = False, **options) -> AsyncIterator[Harness]:
        async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
            api = FakeBotAPI()
            app = build_application(coach, token="123:test", request=api, rate_limit=False, **options)
            h = Harness(app, api, coach)

            async def record(update, context) -> None:
                h.errors.append(context.error)

            app.add_error_handler(record)
            async with app:
                if running:  # the merge timer hands its work to the running application
                    await app.start()
                yield h
                if running:
                    await app.stop()
            assert h.errors == [], f"the error handler was reached: {h.errors!r}"
            assert api.rejected == [], f"Telegram would have rejected: {api.rejected!r}"
    return make


@pytest.fixture
async def bot(harness_for) -> AsyncIterator[Harness]:
    async for h in harness_for():
        yield h


async def test_a_report_of_any_length_arrives_as_valid_html(bot: Harness) -> None:
    await bot.text("/interview sql")
    session = bot.coach.latest_active(f"tg:{ADA}")
    long_item = {"prompt": "<b>why</b> & how " * 300, "missed": "x < y " * 900, "model_answer": "😀 &amp; " * 700}
    await bot.text("It avoids a full table scan.")
    report = (await bot.coach.report(session, f"tg:{ADA}")).model_copy(update={"to_review": [long_item] * 3})
    html = report_html(report)
    assert utf16_len(html) > 3 * LIMIT
    before = len(bot.api.sent)
    await bot.app.bot_data["coach_bot"]._send(Update.de_json(bot.api.text_update(ADA, "x"), bot.app.bot), html)
    parts = [s.text for s in bot.api.sent[before:]]
    assert len(parts) > 3 and bot.api.rejected == []
    assert all(utf16_len(p) <= LIMIT and parse_html(p) for p in parts)
    plain = "".join(parse_html(p) for p in parts).replace("\n", "").replace(" ", "")
    assert plain == parse_html(html).replace("\n", "").replace(" ", "")
    # the interview itself is untouched: /end still finds it
    assert any("Interview over" in r for r in await bot.text("/end"))


async def test_invalid_html_is_rejected_so_tests_would_catch_it(bot: Harness) -> None:
    with pytest.raises(Exception, match=r"(?i)can.t parse entities"):
        await bot.app.bot.send_message(ADA, "<b>unclosed", parse_mode="HTML")
    bot.api.rejected.clear()


async def test_private_commands_refuse_in_groups_with_a_reason(bot: Harness) -> None:
    await bot.text("/interview sql")
    await bot.text("It avoids a full table scan.")
    await bot.text("/end")
    for command in ("/history", "/replay 1", "/settings", "/start", "/progress", "/interview"):
        replies = await bot.text(command, chat=GROUP, user_id=ADA, chat_type="group")
        assert len(replies) == 1 and ("private chat" in replies[0]), (command, replies)
        assert "sql" not in replies[0] and "Session" not in replies[0]
    assert not [s for s in bot.api.sent if s.chat_id == GROUP and s.method == "sendDocument"]
    [refusal] = await bot.tap("difficulty:3", chat=GROUP, chat_type="group")
    assert "private chat" in refusal
    assert bot.coach.preferences(f"tg:{ADA}").get("difficulty") is None


async def test_unknown_commands_point_to_help(bot: Harness) -> None:
    [reply] = await bot.text("/frobnicate now")
    assert "/frobnicate" in reply and "/help" in reply
    assert await bot.text("/frobnicate", chat=GROUP, chat_type="group") == []  # maybe another bot's
    [reply] = await bot.text("/frobnicate@coach_test_bot", chat=GROUP, chat_type="group")
    assert "/help" in reply


async def test_a_second_interview_asks_before_discarding_the_running_one(bot: Harness) -> None:
    await bot.text("/interview sql")
    first = bot.coach.latest_active(f"tg:{ADA}")
    [ask] = await bot.text("/interview caching")
    assert "resume or start over" in ask and bot.coach.latest_active(f"tg:{ADA}") == first
    buttons = [b["callback_data"] for row in bot.api.sent[-1].params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["running:resume", "running:over"]
    menu = bot.api.sent[-1]
    resumed = await bot.tap("running:resume", message_id=1001)
    assert "What does a database index buy you" in resumed[0]
    assert bot.coach.latest_active(f"tg:{ADA}") == first
    await bot.text("/interview caching")
    started = await bot.tap("running:over", message_id=1002)
    assert "caching" in started[0] and bot.coach.latest_active(f"tg:{ADA}") != first
    assert menu.method == "sendMessage"


async def test_a_double_tapped_topic_button_is_handled_once(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await bot.tap("topic:sql", message_id=42)
    assert any("What does a database index" in t for t in first)
    session = bot.coach.latest_active(f"tg:{ADA}")
    again = await bot.tap("topic:sql", message_id=42)
    assert again == [] and bot.coach.latest_active(f"tg:{ADA}") == session
    assert bot.api.sent[-1].method == "answerCallbackQuery" and bot.api.sent[-1].params.get("text") == "Already done."
    # the same button on a newer menu, with an interview running, asks first
    [ask] = await bot.tap("topic:sql", message_id=43)
    assert "resume or start over" in ask and bot.coach.latest_active(f"tg:{ADA}") == session
    # long after, the old menu works again
    await bot.text("/end")
    monkeypatch.setattr(telegram_bot, "DOUBLE_TAP_S", 0.0)
    again = await bot.tap("topic:sql", message_id=42)
    assert any("What does a database index" in t for t in again) and bot.coach.latest_active(f"tg:{ADA}") != session


async def test_consecutive_messages_are_merged_into_one_answer(harness_for) -> None:
    async for bot in harness_for(running=True, merge_window=1.0):
        await bot.text("/interview sql")
        session = bot.coach.latest_active(f"tg:{ADA}")
        parts = ["An index avoids a full table scan,", "so lookups are faster.", "Inserts get slower too."]
        updates = [bot.api.text_update(ADA, p) for p in parts]
        await asyncio.gather(*(bot.app.process_update(Update.de_json(u, bot.app.bot)) for u in updates))
        texts = await bot.replies_until(lambda t: any(x.startswith("<b>Score") for x in t))
        assert "<i>Merged 3 messages into one answer.</i>" in texts
        assert sum(x.startswith("<b>Score") for x in texts) == 1
        answer = bot.coach.transcript(session, f"tg:{ADA}").steps[0].turn.answer
        assert all(p in answer for p in parts) and answer.index(parts[0]) < answer.index(parts[2])
        # a redelivered part of the merged answer is not graded again
        await bot.app.process_update(Update.de_json(updates[1], bot.app.bot))
        await asyncio.sleep(1.5)
        assert sum(s.text.startswith("<b>Score") for s in bot.api.replies(ADA)) == 1


async def test_a_command_right_after_an_answer_grades_the_answer_first(harness_for) -> None:
    async for bot in harness_for(running=True, merge_window=600.0):
        await bot.text("/interview sql")
        assert await bot.text("An index avoids a full table scan.") == []  # waiting for more
        replies = await bot.text("/end")
        assert replies[0].startswith("<b>Score") and "Merged" not in replies[0]
        assert any("Interview over" in r for r in replies)


def png_title(png: bytes) -> str:
    """The PNG's tEXt Title chunk."""
    at = 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"tEXt" and body.startswith(b"Title\0"):
            return body[6:].decode("latin-1")
        if kind == b"zTXt" and body.startswith(b"Title\0"):
            return zlib.decompress(body[7:]).decode("latin-1")
        at += 12 + length
    return ""


async def test_the_chart_title_names_the_user_never_the_internal_id(bot: Harness) -> None:
    await bot.text("/interview sql")
    await bot.text("Lookups avoid a full scan; writes get slower; it needs extra storage.")
    before = len(bot.api.sent)
    await bot.text("/progress")
    [photo] = [s for s in bot.api.sent[before:] if s.method == "sendPhoto"]
    title = png_title(next(iter(photo.files.values())))
    assert title.startswith(f"user{ADA}'s progress") and "tg:" not in title


async def test_abandoned_sessions_are_hidden_from_history_unless_all(bot: Harness) -> None:
    await bot.text("/interview sql")
    await bot.text("It avoids a full table scan.")
    await bot.text("/end")
    await bot.text("/interview caching")
    await bot.text("/end")  # abandoned: closed without an answer
    [history] = await bot.text("/history")
    assert "1. " in history and "sql" in history and "caching" not in history
    assert "1 session(s) closed without an answer are hidden" in history
    [everything] = await bot.text("/history all")
    assert "caching" in everything and "no answers" in everything and "sql" in everything
    before = len(bot.api.sent)
    await bot.text("/replay 1")
    assert any("sql.index" in s.text for s in bot.api.sent[before:])  # N counts the sessions shown


# --- voice answers ------------------------------------------------------------------------------------

class Whisper:
    """A fake OpenAI-compatible transcription server on loopback (a real HTTP server in a thread)."""

    def __init__(self, text: str, status: int = 200) -> None:
        self.text, self.status, self.requests = text, status, []
        whisper = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
                fields = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
                whisper.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                         "model": fields["model"].get_content(),
                                         "file": fields["file"].get_payload(decode=True),
                                         "filename": fields["file"].get_filename()})
                reply = json.dumps({"text": whisper.text}).encode()
                self.send_response(whisper.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/audio/transcriptions"

    def __enter__(self) -> Whisper:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def whisper() -> Iterator[Whisper]:
    with Whisper("An index avoids a full table scan, <so> lookups are faster & cheaper.") as server:
        yield server


async def test_a_voice_answer_is_transcribed_shown_and_graded_after_confirming(harness_for, whisper) -> None:
    transcriber = Transcriber(url=whisper.url, model="whisper-large-v3", key="sk-secret-stt")
    async for bot in harness_for(transcriber=transcriber):
        await bot.text("/interview sql")
        session = bot.coach.latest_active(f"tg:{ADA}")
        voice = bot.api.voice_update(ADA, b"OggS\x00fake opus bytes")
        [heard] = await bot.send(voice)
        assert heard == "I heard: <i>An index avoids a full table scan, &lt;so&gt; lookups are faster &amp; cheaper.</i>"
        [request] = whisper.requests
        assert request == {"path": "/v1/audio/transcriptions", "auth": "Bearer sk-secret-stt",
                           "model": "whisper-large-v3", "file": b"OggS\x00fake opus bytes", "filename": "voice.ogg"}
        keyboard = bot.api.sent[-1].params["reply_markup"]["inline_keyboard"]
        use = keyboard[0][0]["callback_data"]
        assert "sk-secret" not in repr(transcriber)
        assert not [s for s in bot.api.sent if s.text.startswith("<b>Score")]  # nothing graded yet
        graded = await bot.tap(use, message_id=77)
        assert graded[0].startswith("<b>Score") and "faster reads" in graded[0]
        assert await bot.tap(use, message_id=77) == []  # a double tap grades once
        assert sum(s.text.startswith("<b>Score") for s in bot.api.sent) == 1
        assert bot.coach.transcript(session, f"tg:{ADA}").steps[0].turn.answer.startswith("An index avoids a full table scan")
        # a second voice note, discarded: nothing graded
        await bot.send(bot.api.voice_update(ADA, b"OggS more", file_id="voice2"))
        keyboard = bot.api.sent[-1].params["reply_markup"]["inline_keyboard"]
        [discarded] = await bot.tap(keyboard[0][1]["callback_data"], message_id=78)
        assert "Discarded" in discarded
        assert sum(s.text.startswith("<b>Score") for s in bot.api.sent) == 1


async def test_a_heard_voice_answer_still_works_after_a_restart(harness_for, whisper) -> None:
    """The bot restarts between "I heard: ..." and the tap on "use this answer": the transcript is
    read back from the message the buttons are on, graded once under the voice note's key."""
    transcriber = Transcriber(url=whisper.url)
    async for bot in harness_for(transcriber=transcriber):
        await bot.text("/interview sql")
        session = bot.coach.latest_active(f"tg:{ADA}")
        await bot.send(bot.api.voice_update(ADA, b"OggS\x00fake opus bytes"))
        shown = bot.api.sent[-1]
        use, drop = (b["callback_data"] for b in shown.params["reply_markup"]["inline_keyboard"][0])

        async def record(update, context, errors=bot.errors) -> None:
            errors.append(context.error)

        for restart in range(2):
            bot.app = build_application(bot.coach, token="123:test", request=bot.api, rate_limit=False,
                                        transcriber=transcriber)  # a new process: nothing in memory
            bot.app.add_error_handler(record)
            tapped = bot.api.callback_update(ADA, use, message_id=90)
            tapped["callback_query"]["message"]["text"] = parse_html(shown.text)  # what Telegram sends back
            async with bot.app:
                replies = await bot.send(tapped)
            if restart == 0:
                assert replies[0].startswith("<b>Score") and "faster reads" in replies[0]
            else:  # tapped again after another restart: graded once
                assert replies == ["That voice answer was already graded."]
        answer = bot.coach.transcript(session, f"tg:{ADA}").steps[0].turn.answer
        assert answer == "An index avoids a full table scan, <so> lookups are faster & cheaper."
        assert sum(s.text.startswith("<b>Score") for s in bot.api.sent) == 1
        # a button whose message no longer shows the transcript: say so, grade nothing
        async with bot.app:
            [lost] = await bot.tap(use, message_id=91)
            assert "no longer have that voice answer" in lost and "send the voice note again" in lost
            [dropped] = await bot.tap(drop, message_id=92)
            assert "Discarded" in dropped


async def test_a_failing_transcriber_asks_to_type_and_grades_nothing(harness_for) -> None:
    with Whisper("", status=503) as broken:
        async for bot in harness_for(transcriber=Transcriber(url=broken.url)):
            await bot.text("/interview sql")
            [reply] = await bot.send(bot.api.voice_update(ADA, b"OggS"))
            assert "could not transcribe" in reply and "503" in reply and "type your answer" in reply
            assert broken.requests[0]["model"] == "whisper-1" and broken.requests[0]["auth"] is None


async def test_without_a_transcriber_voice_gets_the_polite_reply(bot: Harness) -> None:
    await bot.text("/interview sql")
    [reply] = await bot.send(bot.api.voice_update(ADA, b"OggS"))
    assert "voice notes" in reply and "type" in reply


def test_the_transcriber_comes_from_the_settings(settings: Settings) -> None:
    assert Transcriber.from_settings(settings) is None
    configured = settings.model_copy(update={"stt_url": "http://127.0.0.1:9/v1/audio/transcriptions"})
    t = Transcriber.from_settings(configured)
    assert t is not None and t.model == "whisper-1" and t.key is None
