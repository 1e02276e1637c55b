"""The coach in Telegram: a whole mock interview in a private chat.

    TELEGRAM_BOT_TOKEN=... coach telegram                 # long polling
    coach telegram --webhook https://host/tg --port 8443  # webhook with a secret token

Handlers only translate: a chat message becomes a SessionService call, and the Step that comes
back becomes HTML messages. Interview state lives in the service and its checkpointer, so a
restarted bot continues every chat where it was. Each chat's updates run one at a time and in
order (a per-chat lock); different chats run in parallel. Every action carries the Telegram
update id as its idempotency key, so a redelivered update is handled once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from agent.errors import CoachError
from agent.service import SessionService, Step
from bots.intro import intro_lines
from bots.render_transcript import render_html
from bots.speech import Transcriber, TranscriptionFailed
from bots.telegram.indicator import TYPING_AFTER, typing_if_slow
from bots.telegram.render import grade_html, prompt_html, report_html, split_message

log = logging.getLogger(__name__)


def with_code_fences(message: Message) -> str:
    """The message text with its code blocks fenced again: Telegram clients turn a ```python block
    into a `pre` entity and drop the backticks, and the coach finds code by its fences."""
    text = message.text or ""
    blocks = sorted((e for e in message.entities or () if e.type == MessageEntity.PRE), key=lambda e: e.offset)
    if not blocks:
        return text
    units = text.encode("utf-16-le")  # entity offsets count UTF-16 code units
    out, at = [], 0
    for e in blocks:
        out.append(units[2 * at:2 * e.offset].decode("utf-16-le"))
        body = units[2 * e.offset:2 * (e.offset + e.length)].decode("utf-16-le")
        out.append(f"\n```{e.language or ''}\n{body.strip(chr(10))}\n```\n")
        at = e.offset + e.length
    out.append(units[2 * at:].decode("utf-16-le"))
    return "".join(out)

COMMANDS = [
    ("start", "What the coach does; pick a topic and format"),
    ("interview", "Concept interview: /interview [topic]"),
    ("rapid", "Rapid-fire screen, about ten quick questions"),
    ("code", "Coding round against hidden tests"),
    ("design", "System design round"),
    ("behavioural", "Behavioural round (STAR stories)"),
    ("mock", "The 45-minute mock interview"),
    ("livecoding", "Live-coding mock: four problems, one clock"),
    ("hint", "A nudge on the current question"),
    ("skip", "Skip the current question"),
    ("end", "End the interview and get the report"),
    ("progress", "Weak topics and your progress chart"),
    ("history", "Your past sessions"),
    ("settings", "Difficulty and your default topic"),
    ("replay", "Replay a session: /replay N (from /history)"),
    ("help", "How this works"),
]
FORMAT_COMMANDS = {"interview": "concept", "rapid": "rapid", "code": "code", "design": "design",
                   "behavioural": "behavioural", "mock": "mock", "livecoding": "live-coding"}
HELP = (
    "I run mock interviews for software and AI-engineer roles and grade every answer against a rubric.\n\n"
    "/interview [topic] a concept interview · /rapid a rapid-fire screen · /code a coding round · "
    "/design system design · /behavioural STAR stories · /mock the 45-minute mock · "
    "/livecoding four coding problems against one clock\n"
    "Answer in plain text (code as a message, a ```python block or a .py file). /hint for a nudge, /skip to move on, "
    "/end for your report, /progress for weak topics and a chart, /history and /replay N for past sessions, "
    "/settings to rate how sure you are of each answer before its grade."
)


SELF_RATINGS = {1: "didn't know", 2: "partly", 3: "clear and complete"}
SELF_RATE_QUESTION = "How sure are you? 1 didn't know / 2 partly / 3 clear and complete. Your grade comes next."
RATE_FIRST = "First tap how sure you were of your last answer (1, 2, 3 or skip) to see its grade; then send this again."


def user_of(update: Update) -> str:
    return f"tg:{update.effective_user.id}"


ANSWER_TEXT = filters.TEXT & ~filters.COMMAND
"""A message that is an answer (the handler for it is `CoachBot.answer`)."""

HEARD = "I heard: "
"""How a voice note's transcript is shown back, with "use this answer" and "discard" buttons."""

REMEMBERED = 10_000
"""How many button taps, merged update ids and heard voice notes the bot keeps in memory."""
DOUBLE_TAP_S = 60.0
"""A topic or format button tapped again on the same menu within this time is a double tap (ignored);
later, the old menu works again. Resume/start-over and voice-answer buttons act once, ever."""


@dataclass
class Pending:
    """Text messages waiting to be merged into one answer (the first update is the answer's key)."""

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    texts: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


def _remember(memory: dict, key: object, value: object = None) -> None:
    memory[key] = value
    while len(memory) > REMEMBERED:
        memory.pop(next(iter(memory)))


class CoachBot:
    def __init__(self, coach: SessionService, typing_after: float = TYPING_AFTER, merge_window: float = 0.0,
                 transcriber: Transcriber | None = None) -> None:
        self.coach = coach
        self.typing_after = typing_after
        self.merge_window = merge_window
        self.transcriber = transcriber
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._held: dict[int, Step] = {}
        """Per chat: a graded step waiting for the candidate's self-rating before it is shown."""
        self._pending: dict[int, Pending] = {}  # chat -> text messages waiting to be merged
        self._merged: dict[int, None] = {}  # update ids already part of a merged answer
        self._tapped: dict[tuple, float] = {}  # (chat, message, data) of buttons handled -> when
        self._choices: dict[int, tuple[str, str | None]] = {}  # chat -> the start waiting on "start over"
        self._heard: dict[tuple[int, int], tuple[str, int]] = {}  # (chat, message) -> (transcript, update id)
        self._runs: dict[int, list[Update]] = {}  # first update id -> the parts the inbox merged into one answer
        self.replay_duplicates = False
        """Set by the inbox, which hands over only updates not yet marked handled: an answer the
        service reports as already graded was then graded by a process that died before it could
        mark it, maybe before it replied, so the grade is sent again (without the inbox: nothing)."""

    # --- merging, when the inbox does it ----------------------------------------------------------

    def merges(self, update: Update) -> bool:
        """Whether `update` is a text answer that the chat's next text messages may join (the
        inbox holds it until its merge window closes instead of handing it over at once)."""
        return (self.merge_window > 0 and update.message is not None and update.effective_chat is not None
                and update.effective_chat.type == ChatType.PRIVATE and bool(ANSWER_TEXT.check_update(update)))

    def expect_merged(self, parts: list[Update]) -> None:
        """The next `parts[0]` this bot handles is one answer made of `parts` (consecutive text
        messages the inbox stored and held until the chat's merge window closed)."""
        self._runs[parts[0].update_id] = parts

    def forget_merged(self, update_id: int) -> None:
        self._runs.pop(update_id, None)

    # --- plumbing ---------------------------------------------------------------------------------

    async def _send(self, update: Update, html: str, **kwargs) -> None:
        """HTML in parts that fit; `reply_markup` and friends go on the last part."""
        chunks = split_message(html)
        for n, chunk in enumerate(chunks, 1):
            await update.effective_chat.send_message(chunk, parse_mode=ParseMode.HTML,
                                                     **(kwargs if n == len(chunks) else {}))

    async def _private_only(self, update: Update, command: str) -> bool:
        """True in a private chat; in a group, a one-line reason and False."""
        if update.effective_chat.type == ChatType.PRIVATE:
            return True
        await update.effective_chat.send_message(
            f"/{command} works only in a private chat with me, so your sessions stay yours: message me directly.")
        return False

    async def _show(self, update: Update, step: Step, context: ContextTypes.DEFAULT_TYPE | None = None) -> None:
        """Render a Step: grades, a notice, the next question or the report."""
        if step.duplicate:
            return
        for turn in step.graded:
            await self._send(update, grade_html(turn))
        if step.notice:
            await self._send(update, f"<i>{escape(step.notice)}</i>")
        if step.prompt:
            await self._send(update, prompt_html(step.prompt, step.hints))
        if step.report:
            await self._send(update, report_html(step.report))
        if context is not None and context.job_queue is not None:
            self._schedule_reminder(update, step, context)

    def _schedule_reminder(self, update: Update, step: Step, context: ContextTypes.DEFAULT_TYPE) -> None:
        """One reminder per chat, for the question now waiting, when its time budget runs out."""
        name = f"remind:{update.effective_chat.id}"
        for job in context.job_queue.get_jobs_by_name(name):
            job.schedule_removal()
        prompt = step.prompt
        if prompt is None or not prompt.time_budget_s or prompt.is_follow_up:
            return
        context.job_queue.run_once(
            self.remind, when=prompt.time_budget_s, name=name, chat_id=update.effective_chat.id,
            user_id=update.effective_user.id, data={"session": step.session_id, "seq": prompt.seq,
                                                     "minutes": max(1, prompt.time_budget_s // 60)},
        )

    async def remind(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Time is up: nudge, unless the question was answered meanwhile."""
        job = context.job
        step = await self.coach.resume(job.data["session"], f"tg:{job.user_id}")
        if step.finished or step.prompt is None or step.prompt.seq != job.data["seq"]:
            return
        await context.bot.send_message(
            job.chat_id, f"⏰ Time is up for this one (about {job.data['minutes']} min). Answer when "
            "you are ready: a late answer is still graded, and marked late.")

    async def _in_chat(self, update: Update, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for this chat after the chat's earlier updates; explain CoachErrors."""
        if update.effective_chat.type != ChatType.PRIVATE:
            await update.effective_chat.send_message("I run interviews in private chats: message me directly.")
            return
        async with self._locks[update.effective_chat.id]:
            try:
                await work()
            except CoachError as err:
                await update.effective_chat.send_message(str(err))

    def _session(self, update: Update) -> str | None:
        return self.coach.latest_active(user_of(update))

    # --- commands ---------------------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Introduce the coach with topic and format buttons."""
        if not await self._private_only(update, "start"):
            return
        topics = list(self.coach.topics())
        rows = [[InlineKeyboardButton(t.replace("_", " "), callback_data=f"topic:{t}") for t in topics[i : i + 3]]
                for i in range(0, len(topics), 3)]
        rows.append([InlineKeyboardButton(label, callback_data=f"format:{fmt}") for fmt, label in
                     (("rapid", "⚡ rapid-fire"), ("mock", "🎯 45-min mock"), ("behavioural", "🗣 behavioural"))])
        await update.effective_chat.send_message(
            HELP + "\n\nPick a topic for a concept interview, or a format:", reply_markup=InlineKeyboardMarkup(rows))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Explain the commands."""
        await update.effective_chat.send_message(HELP)

    async def begin(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/interview [topic], /rapid, /code, /design, /behavioural, /mock, /livecoding: start that format."""
        command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
        topic = " ".join(context.args or []) or None
        await self._flush(update.effective_chat.id)
        await self._in_chat(update, lambda: self._begin(update, context, FORMAT_COMMANDS[command], topic))

    async def _begin(self, update: Update, context: ContextTypes.DEFAULT_TYPE, fmt: str, topic: str | None,
                     replace: bool = False) -> None:
        """Start `fmt`; a running interview is replaced only after the candidate says "start over"."""
        user = user_of(update)
        active = self.coach.latest_active(user)
        if active and not replace:
            self._choices[update.effective_chat.id] = (fmt, topic)
            await update.effective_chat.send_message(
                "You have an interview running: resume or start over?", reply_markup=InlineKeyboardMarkup([[
                    InlineKeyboardButton("▶️ resume it", callback_data="running:resume"),
                    InlineKeyboardButton("🔄 start over", callback_data="running:over")]]))
            return
        step = await self.coach.start(user, topic=topic, fmt=fmt)
        if active:
            await self.coach.end(active, user)  # one interview per chat: the new one replaces it
        self._held.pop(update.effective_chat.id, None)
        intro = intro_lines(self.coach.formats()[fmt])
        if intro:
            await self._send(update, "\n".join(escape(line) for line in intro))
        await self._show(update, step, context)

    async def _resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        session = self._session(update)
        if session is None:
            await update.effective_chat.send_message("No interview is running: /interview starts one.")
            return
        await self._show(update, await self.coach.resume(session, user_of(update)), context)

    async def act(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/hint, /skip, /end on the current interview."""
        command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._flush(update.effective_chat.id)  # an answer still being merged comes first
        await self._in_chat(update, lambda: self._act(update, context, command))

    async def _act(self, update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
        session = self._session(update)
        if session is None:
            await update.effective_chat.send_message("No interview is running: /interview starts one.")
            return
        if command != "end" and update.effective_chat.id in self._held:
            await update.effective_chat.send_message(RATE_FIRST)
            return
        self._held.pop(update.effective_chat.id, None)
        verb = {"hint": self.coach.hint, "skip": self.coach.skip, "end": self.coach.end}[command]
        await self._show(update, await verb(session, user_of(update), key=f"tg:{update.update_id}"), context)

    async def progress(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Weak topics with reasons, reviews due, and the chart as a photo."""
        await self._in_chat(update, lambda: self._progress(update))

    async def _progress(self, update: Update) -> None:
        report = self.coach.progress(user_of(update))
        if not report.history:
            await update.effective_chat.send_message("No graded answers yet: /interview starts one.")
            return
        lines = ["<b>Weak topics</b>"] + [f"• {escape(w.topic)}: {escape(w.reason)}" for w in report.weak_topics]
        if not report.weak_topics:
            lines.append("none: every topic is at 60% or better")
        if report.due:
            lines.append(f"\n{len(report.due)} review(s) due now: /interview brings them back first.")
        if report.upcoming:
            lines.append("\n<b>Next reviews of missed questions</b>")
            lines += [f"• {escape(d.question_id)}: {d.due:%Y-%m-%d %H:%M} UTC" for d in report.upcoming[:10]]
        if report.calibration:
            lines.append("\n<b>Calibration</b> (your self-rating against the grade)")
            lines += [f"• {escape(topic)}: {c.verdict}, bias {c.bias:+.2f} over {c.n} answer(s) "
                      f"({c.over} rated above the grade, {c.under} below)" for topic, c in report.calibration.items()]
        await self._send(update, "\n".join(lines))
        from bots.charts import calibration_png, progress_png  # matplotlib: loaded on the first chart

        png = await asyncio.to_thread(progress_png, report, update.effective_user.first_name)
        await update.effective_chat.send_photo(png, caption="Scores over time per topic")
        if report.calibration:
            png = await asyncio.to_thread(calibration_png, report)
            await update.effective_chat.send_photo(png, caption="Calibration: above zero is overconfident")

    async def settings(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the candidate's settings with buttons to change them."""
        if not await self._private_only(update, "settings"):
            return
        prefs = self.coach.preferences(user_of(update))
        level = {1: "easy", 2: "medium", 3: "hard"}.get(prefs.get("difficulty"), "adaptive")
        rows = [[InlineKeyboardButton(label, callback_data=f"difficulty:{n}") for n, label in
                 ((1, "easy"), (2, "medium"), (3, "hard"))]]
        topics = list(self.coach.topics())
        rows += [[InlineKeyboardButton(t.replace("_", " "), callback_data=f"prefer:{t}") for t in topics[i : i + 3]]
                 for i in range(0, len(topics), 3)]
        rows.append([InlineKeyboardButton("any topic", callback_data="prefer:")])
        rating = "on" if prefs.get("self_rate") else "off"
        rows.append([InlineKeyboardButton(f"self-rating: turn {'off' if prefs.get('self_rate') else 'on'}",
                                          callback_data=f"selfrate:{0 if prefs.get('self_rate') else 1}")])
        await update.effective_chat.send_message(
            f"Difficulty: {level}. Default topic: {prefs.get('topic') or 'any'}. Self-rating: {rating}."
            "\nChange them:",
            reply_markup=InlineKeyboardMarkup(rows))

    def _replayable(self, update: Update) -> list:
        """Sessions worth a look, newest first: abandoned ones (closed without an answer) left out."""
        return [s for s in self.coach.sessions(user_of(update)) if s.answered or s.status == "active"]

    async def history(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The last ten sessions, numbered for /replay; `/history all` also lists abandoned ones."""
        if not await self._private_only(update, "history"):
            return
        everything = self.coach.sessions(user_of(update))
        if not everything:
            await update.effective_chat.send_message("No sessions yet: /interview starts one.")
            return
        numbers = {s.session_id: n for n, s in enumerate(self._replayable(update)[:10], 1)}
        show_all = (context.args or [""])[0].lower() == "all"
        shown = everything[:10] if show_all else [s for s in everything if s.session_id in numbers]
        lines = ["<b>Your sessions</b> (newest first)"]
        for s in shown:
            score = "n/a" if s.score is None else f"{s.score:.0%}"
            topics = ", ".join(s.topics) or "mixed"
            number = f"{numbers[s.session_id]}." if s.session_id in numbers else "–"
            note = "" if s.session_id in numbers else " · no answers"
            lines.append(f"{number} {s.started_at:%Y-%m-%d %H:%M} · {escape(s.format)} · {escape(topics)} · {score}{note}")
        hidden = sum(1 for s in everything if not (s.answered or s.status == "active"))
        if not show_all and hidden:
            lines.append(f"\n{hidden} session(s) closed without an answer are hidden: /history all shows them.")
        if numbers:
            lines.append("\n/replay N sends session N as a page you can open on your phone.")
        await self._send(update, "\n".join(lines))

    async def replay(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/replay N: a summary in the chat and the whole transcript as an HTML document."""
        if not await self._private_only(update, "replay"):
            return
        sessions = self._replayable(update)[:10]
        if not sessions:  # a session id still works for any session of the user's
            sessions = self.coach.sessions(user_of(update))[:10]
        arg = (context.args or ["1"])[0]
        chosen = next((s for s in sessions if s.session_id == arg), None)
        if chosen is None and arg.isdigit() and 1 <= int(arg) <= len(sessions):
            chosen = sessions[int(arg) - 1]
        if chosen is None:
            await update.effective_chat.send_message("No such session: /history lists yours, then /replay N.")
            return
        transcript = self.coach.transcript(chosen.session_id, user_of(update))
        summary = [f"<b>Session {escape(transcript.session_id)}</b> · score "
                   f"{'n/a' if transcript.score is None else f'{transcript.score:.0%}'}"]
        for step in transcript.steps:
            if step.turn.grade:
                summary.append(f"• {escape(step.turn.question_id)}: {step.turn.grade.score:.0%}")
        await self._send(update, "\n".join(summary))
        page = render_html(transcript).encode()
        await update.effective_chat.send_document(page, filename=f"interview-{transcript.session_id}.html",
                                                  caption="The whole transcript: open it in your browser")

    # --- messages ---------------------------------------------------------------------------------

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message is the answer to the waiting question. Messages sent within `merge_window`
        seconds of each other (a long answer Telegram split, or typed in bursts) are one answer. Under
        the inbox (`coach telegram`) the parts are merged there, durably, and arrive here as one run;
        the in-memory buffer below serves an application fed without it."""
        run = self._runs.pop(update.update_id, None)
        if run is not None:  # merged durably by the inbox: grade it now, as one answer
            text = "\n\n".join(with_code_fences(part.effective_message) for part in run)
            await self._in_chat(update, lambda: self._answer(update, context, text, merged=len(run)))
            return
        text = with_code_fences(update.effective_message)
        chat = update.effective_chat.id
        if self.merge_window <= 0 or update.effective_chat.type != ChatType.PRIVATE:
            await self._in_chat(update, lambda: self._answer(update, context, text))
            return
        if update.update_id in self._merged:
            return  # a redelivered part of an answer already graded
        pending = self._pending.setdefault(chat, Pending(update, context))
        if update.update_id in pending.ids:
            return
        pending.texts.append(text)
        pending.ids.append(update.update_id)
        if pending.timer is not None:
            pending.timer.cancel()
        pending.timer = asyncio.get_running_loop().call_later(
            self.merge_window, lambda: context.application.create_task(self._flush(chat), update=update))

    async def _flush(self, chat: int) -> None:
        """Grade the chat's waiting messages now, as one answer (nothing waiting: nothing to do)."""
        pending = self._pending.pop(chat, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        for update_id in pending.ids:
            _remember(self._merged, update_id)
        text = "\n\n".join(pending.texts)
        await self._in_chat(pending.update, lambda: self._answer(pending.update, pending.context, text,
                                                                 merged=len(pending.texts)))

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str,
                      key: str | None = None, merged: int = 1) -> None:
        session = self._session(update)
        if session is None:
            await update.effective_chat.send_message("No interview is running: /interview starts one, /help explains.")
            return
        if update.effective_chat.id in self._held:
            await update.effective_chat.send_message(RATE_FIRST)
            return
        async with typing_if_slow(update.effective_chat, self.typing_after):
            step = await self.coach.answer(session, user_of(update), text, key=key or f"tg:{update.update_id}")
        if step.duplicate and key is not None:  # a voice answer tapped again after a restart
            await update.effective_chat.send_message("That voice answer was already graded.")
            return
        if step.duplicate and self.replay_duplicates:
            step = self._replayed(update, step)
        if merged > 1 and not step.duplicate:
            await self._send(update, f"<i>Merged {merged} messages into one answer.</i>")
        answered = next((t for t in step.graded if t.outcome == "answered"), None)
        if answered is None or step.duplicate or not self.coach.preferences(user_of(update)).get("self_rate"):
            await self._show(update, step, context)
            return
        # Graded and saved, but shown only after the candidate says how sure they were.
        self._held[update.effective_chat.id] = step
        rows = [[InlineKeyboardButton(f"{n} · {label}", callback_data=f"rate:{step.session_id}:{answered.seq}:{n}")
                 for n, label in SELF_RATINGS.items()],
                [InlineKeyboardButton("skip", callback_data=f"rate:{step.session_id}:{answered.seq}:0")]]
        await update.effective_chat.send_message(SELF_RATE_QUESTION, reply_markup=InlineKeyboardMarkup(rows))

    async def _rated(self, update: Update, context: ContextTypes.DEFAULT_TYPE, value: str) -> None:
        """A self-rating button: record it, then show the grade and what comes next."""
        session, _, rest = value.partition(":")
        seq_text, _, rating_text = rest.partition(":")
        if not (seq_text.isdigit() and rating_text in ("0", "1", "2", "3")):
            return
        user, chat, seq = user_of(update), update.effective_chat.id, int(seq_text)
        held = self._held.get(chat)
        if held is not None and held.session_id == session and any(t.seq == seq for t in held.graded):
            del self._held[chat]
        else:  # an older message's buttons: the step waiting for its rating stays held
            held = None
        if held is None:
            # Already rated, or the bot restarted meanwhile: the grade is saved, so rebuild the step.
            before = next((s.turn for s in self.coach.transcript(session, user).steps if s.turn.seq == seq), None)
            if before is None or before.self_rating is not None:
                return
            held = (await self.coach.resume(session, user)).model_copy(update={"graded": [before]})
        if rating_text != "0":
            turn = await self.coach.rate(session, user, seq, int(rating_text))
            held = held.model_copy(update={"graded": [turn if t.seq == turn.seq else t for t in held.graded]})
        await self._show(update, held, context)

    def _replayed(self, update: Update, step: Step) -> Step:
        """The reply to an answer graded just before a restart: its grade (the session's latest, as
        the chat's updates are handled in order) and the question now waiting, shown again."""
        graded = step.graded or [s.turn for s in self.coach.transcript(step.session_id, user_of(update)).steps
                                 if s.turn.grade is not None][-1:]
        return step.model_copy(update={"duplicate": False, "graded": graded,
                                       "notice": step.notice or "Sent again: I graded this just before a restart."})

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A .py file is read as a code answer; other files get a polite no."""
        doc = update.effective_message.document
        if not (doc.file_name or "").endswith(".py"):
            await update.effective_chat.send_message("I can read .py files as code answers; for anything else, send text.")
            return
        if (doc.file_size or 0) > self.coach.limits.max_code_chars:
            await update.effective_chat.send_message("That file is too large for a code answer.")
            return
        data = await (await doc.get_file()).download_as_bytearray()
        text = bytes(data).decode("utf-8", errors="replace")
        await self._flush(update.effective_chat.id)
        await self._in_chat(update, lambda: self._answer(update, context, text))

    async def unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice notes: say what works instead."""
        message = update.effective_message
        if (message.voice or message.audio) and self.transcriber is not None:
            await self._flush(update.effective_chat.id)
            await self._in_chat(update, lambda: self._hear(update))
            return
        if message.voice or message.audio or message.video_note:
            text = "I can't listen to voice notes yet: please type your answer."
        else:
            text = "I grade text answers: please type yours (or /hint, /skip, /end)."
        await update.effective_chat.send_message(text)

    async def _hear(self, update: Update) -> None:
        """Transcribe a voice note and show it back; it is graded only after "use this answer"."""
        assert self.transcriber is not None
        message = update.effective_message
        media = message.voice or message.audio
        if self._session(update) is None:
            await update.effective_chat.send_message("No interview is running: /interview starts one, /help explains.")
            return
        if (media.file_size or 0) > 20_000_000:
            await update.effective_chat.send_message("That recording is too long: please keep an answer under 20 MB.")
            return
        audio = bytes(await (await media.get_file()).download_as_bytearray())
        async with typing_if_slow(update.effective_chat, self.typing_after):
            try:
                text = await self.transcriber.transcribe(audio, mime=media.mime_type or "audio/ogg")
            except TranscriptionFailed as err:
                await update.effective_chat.send_message(
                    f"I could not transcribe that voice note ({err}): please send it again or type your answer.")
                return
        text = text[: self.coach.limits.max_answer_chars]
        _remember(self._heard, (update.effective_chat.id, message.message_id), (text, update.update_id))
        ids = f"{message.message_id}:{update.update_id}"  # the update id: the answer's key, also after a restart
        buttons = InlineKeyboardMarkup([[
            InlineKeyboardButton("✅ use this answer", callback_data=f"heard:use:{ids}"),
            InlineKeyboardButton("🗑 discard", callback_data=f"heard:drop:{ids}")]])
        await self._send(update, f"{HEARD}<i>{escape(text)}</i>", reply_markup=buttons)

    async def _use_heard(self, update: Update, context: ContextTypes.DEFAULT_TYPE, action: str, value: str) -> None:
        message_id, _, update_id = value.partition(":")
        heard = self._heard.pop((update.effective_chat.id, int(message_id) if message_id.isdigit() else 0), None)
        shown = update.callback_query.message
        shown_text = shown.text if isinstance(shown, Message) else None
        if heard is None and update_id.isdigit() and shown_text and shown_text.startswith(HEARD):
            # Heard before a restart: the transcript is the text of the message the buttons are on.
            heard = (shown_text[len(HEARD):], int(update_id))
        if heard is None and action == "use":
            await update.effective_chat.send_message(
                "I no longer have that voice answer (it was used, discarded, or lost in a restart): "
                "please send the voice note again or type your answer.")
        elif heard is not None and action == "use":
            text, update_id = heard
            await self._in_chat(update, lambda: self._answer(update, context, text, key=f"tg:{update_id}"))
        else:
            await update.effective_chat.send_message("Discarded. Send another voice note or type your answer.")

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command the bot does not have: point to /help (in a group, only when addressed to me)."""
        command = (update.effective_message.text or "/").split()[0]
        name, _, addressee = command.partition("@")
        if update.effective_chat.type != ChatType.PRIVATE and addressee.lower() != (context.bot.username or "").lower():
            return
        await update.effective_chat.send_message(f"I don't know {name[:40]}: /help lists what I can do.")

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Edits are not re-graded: the first version counts."""
        await update.effective_chat.send_message(
            "I grade each answer as first sent, so that edit was not graded. Send a new message to add to it.")

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Topic and format buttons from /start."""
        query = update.callback_query
        kind, _, value = (query.data or "").partition(":")
        if kind in ("topic", "format", "running", "heard"):  # a double tap acts once
            tap = (update.effective_chat.id, query.message.message_id if query.message else None, query.data)
            tapped_at = self._tapped.get(tap)
            if tapped_at is not None and (kind in ("running", "heard") or time.monotonic() - tapped_at < DOUBLE_TAP_S):
                await query.answer("Already done.")
                return
            _remember(self._tapped, tap, time.monotonic())
        await query.answer()
        if kind == "running":
            choice = self._choices.pop(update.effective_chat.id, None)
            if value == "resume":
                await self._in_chat(update, lambda: self._resume(update, context))
            elif choice is None:
                await update.effective_chat.send_message("That choice has expired: send the command again.")
            else:
                await self._in_chat(update, lambda: self._begin(update, context, *choice, replace=True))
        elif kind == "heard":
            action, _, message_id = value.partition(":")
            await self._use_heard(update, context, action, message_id)
        elif kind == "topic":
            await self._in_chat(update, lambda: self._begin(update, context, "concept", value))
        elif kind == "format":
            await self._in_chat(update, lambda: self._begin(update, context, value, None))
        elif kind == "rate":
            await self._in_chat(update, lambda: self._rated(update, context, value))
        elif kind == "selfrate":
            self.coach.set_preferences(user_of(update), self_rate=value == "1")
            await update.effective_chat.send_message(
                "Saved. Self-rating is on: after each answer, tap how sure you are before the grade."
                if value == "1" else "Saved. Self-rating is off.")
        elif kind in ("difficulty", "prefer"):
            if not await self._private_only(update, "settings"):
                return
            user = user_of(update)
            prefs = (self.coach.set_preferences(user, difficulty=int(value)) if kind == "difficulty"
                     else self.coach.set_preferences(user, topic=value or None, clear_topic=not value))
            level = {1: "easy", 2: "medium", 3: "hard"}.get(prefs.get("difficulty"), "adaptive")
            await update.effective_chat.send_message(
                f"Saved. Difficulty: {level}; default topic: {prefs.get('topic') or 'any'}.")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log first, with context; then tell the user something useful (never the exception)."""
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        log.error("update %s in chat %s failed", getattr(update, "update_id", "?"), chat, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat:
            await update.effective_chat.send_message(
                "Something went wrong on my side. Your interview is saved: send your answer again, or /end.")


def build_application(coach: SessionService, token: str, request: BaseRequest | None = None,
                      base_url: str | None = None, rate_limit: bool = True,
                      typing_after: float = TYPING_AFTER, merge_window: float = 0.0,
                      transcriber: Transcriber | None = None) -> Application:
    """Wire the handlers. `request` swaps the HTTP layer (the in-memory Bot API in tests);
    `typing_after`: seconds an answer's reply may take before "typing…" is shown;
    `merge_window`: seconds within which consecutive text messages are one answer (0: each alone);
    `transcriber`: speech to text for voice answers (None: voice notes get a polite "please type")."""
    bot = CoachBot(coach, typing_after, merge_window, transcriber)
    builder = ApplicationBuilder().token(token).concurrent_updates(256)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if base_url:
        builder = builder.base_url(f"{base_url.rstrip('/')}/bot").base_file_url(f"{base_url.rstrip('/')}/file/bot")
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
    app = builder.build()
    app.bot_data["coach_bot"] = bot
    app.add_handler(CommandHandler("start", bot.start))
    app.add_handler(CommandHandler("help", bot.help))
    app.add_handler(CommandHandler(list(FORMAT_COMMANDS), bot.begin))
    app.add_handler(CommandHandler(["hint", "skip", "end"], bot.act))
    app.add_handler(CommandHandler("progress", bot.progress))
    app.add_handler(CommandHandler("history", bot.history))
    app.add_handler(CommandHandler("settings", bot.settings))
    app.add_handler(CommandHandler("replay", bot.replay))
    app.add_handler(CallbackQueryHandler(bot.button))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, bot.edited))
    app.add_handler(MessageHandler(filters.COMMAND, bot.unknown))
    app.add_handler(MessageHandler(ANSWER_TEXT, bot.answer))
    app.add_handler(MessageHandler(filters.Document.ALL, bot.document))
    app.add_handler(MessageHandler(filters.ALL & ~filters.COMMAND, bot.unsupported))
    app.add_error_handler(bot.on_error)
    return app


async def register_commands(app: Application) -> None:
    """Publish the command menu (Telegram shows it next to the text box)."""
    await app.bot.set_my_commands([BotCommand(name, description) for name, description in COMMANDS])
