"""Update intake: every Telegram update is stored before it is acknowledged, then handled once.

    intake = Intake(app, coach.inbox, worker="polling")
    await intake.recover()                    # what a killed process left unhandled
    await poll(app, intake, stop)             # long polling: store, then ask for the next offset
    await serve_webhook(intake, secret, "0.0.0.0", 8443, stop)   # or: store, then answer 200

Why: Telegram treats an update as delivered when the bot asks for the next offset or answers a
webhook POST with 200. Handled only in memory, an update is lost if the process dies before its
handler finishes. Here the update reaches the database (the service's inbox, keyed by update id,
so a redelivered or duplicated update is stored once) before it is acknowledged. Then the
worker that stored it drains that chat's unhandled rows in update-id order under a lease held in
the database, so with several webhook workers behind one URL a chat's updates still run one at
a time and in order, each marked handled after its handler ran. A worker killed mid-drain
leaves rows unhandled and its lease runs out; any worker's sweep then picks the chat up.

Consecutive text answers are merged here too, not in memory: with a merge window, a text answer
at the head of a chat's inbox is not handled until the window has closed (no new part for
`merge_window` seconds, or a later update of another kind stored); then the run of parts goes to
the bot as one answer and all of them are marked handled in one transaction. A process killed
inside the window has handled nothing, so the restarted one merges the same parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from agent.service import InboxUpdate, UpdateInbox
from bots.telegram.bot import CoachBot

log = logging.getLogger(__name__)

SWEEP_EVERY = 2.0
"""Seconds between looks for chats that no live worker is draining."""


def chat_key(update: Update) -> int:
    """The chat an update belongs to (its order domain); the user for chat-less updates."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else 0


class Intake:
    """Store updates, then drain each touched chat's inbox in order, once, across processes."""

    def __init__(self, app: Application, inbox: UpdateInbox, worker: str) -> None:
        self.app = app
        self.inbox = inbox
        self.worker = worker
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self._wake: dict[int, asyncio.Event] = {}  # chats whose drain waits for a merge window to close
        self._closing = False
        bot = app.bot_data.get("coach_bot")
        if isinstance(bot, CoachBot):
            bot.replay_duplicates = True  # what reaches the bot from here was not marked handled

    def receive(self, payloads: list[dict[str, Any]]) -> int:
        """Store updates durably (one transaction), then start handling them; returns how many were
        new. Raises when the database is unreachable: then the caller must not acknowledge."""
        rows = []
        for payload in payloads:
            update = Update.de_json(payload, self.app.bot)
            rows.append((update.update_id, chat_key(update), payload))
        chats = self.inbox.store(rows, self.worker)  # and each chat's lease, where it is free
        for chat, batch in chats.items():
            if batch is not None or chat in self._draining:
                self.kick(chat, batch)
        return len(chats)

    def kick(self, chat: int, batch: list[InboxUpdate] | None = None) -> None:
        """Drain `chat` (or, if this process is already draining it, look again when done);
        `batch`: its waiting updates, when the lease is already taken."""
        if chat in self._draining:
            self._again.add(chat)
            if chat in self._wake:
                self._wake[chat].set()  # a new update may close (or extend) the answer being merged
            return
        self._draining[chat] = asyncio.create_task(self._drain(chat, batch), name=f"drain:{chat}")

    async def _drain(self, chat: int, batch: list[InboxUpdate] | None) -> None:
        try:
            while True:
                self._again.discard(chat)
                if batch is None:
                    batch = self.inbox.claim(chat, self.worker)
                    if batch is None:
                        return  # another worker drains it; its last transaction sees what we stored
                try:
                    while batch:
                        run, wait = self._next_answer(batch)
                        if wait > 0:  # text parts whose merge window is still open: handle nothing yet
                            if self._closing:  # stopping: they stay stored, a restart merges them
                                self.inbox.release(chat, self.worker)
                                return
                            await self._wait(chat, wait)
                            batch = self.inbox.claim(chat, self.worker)  # renews the lease; new parts?
                            if batch is None:
                                return
                            continue
                        await self._handle(run)
                        # Marks them handled (all parts of a merged answer together); gives the
                        # lease back when nothing is left.
                        batch = self.inbox.handled([row.update_id for row in run], chat, self.worker)
                except BaseException:
                    with contextlib.suppress(Exception):
                        self.inbox.release(chat, self.worker)
                    raise
                if chat not in self._again:
                    return
                batch = None  # more arrived while a handler ran: claim and look again
        except Exception:
            log.exception("draining chat %s stopped; the sweep retries its unhandled updates", chat)
        finally:
            self._draining.pop(chat, None)

    def _next_answer(self, batch: list[InboxUpdate]) -> tuple[list[InboxUpdate], float]:
        """What to handle next: the first update alone, or the run of consecutive text answers at the
        head of the chat's inbox as one answer, with the seconds to wait until its merge window has
        closed (0: handle it now). The window closes `merge_window` seconds after the run's last
        part was stored, or as soon as a later update of another kind is stored."""
        bot = self.app.bot_data.get("coach_bot")
        if (not isinstance(bot, CoachBot) or bot.merge_window <= 0  # no merging: no need to parse the update
                or not bot.merges(Update.de_json(batch[0].payload, self.app.bot))):
            return batch[:1], 0.0
        window = timedelta(seconds=bot.merge_window)
        now = datetime.now(UTC)
        run = batch[:1]
        for row in batch[1:]:
            if not bot.merges(Update.de_json(row.payload, self.app.bot)):
                return run, 0.0
            if (row.received_at or now) - (run[-1].received_at or now) > window:
                return run, 0.0  # stored long after (a backlog after downtime): a separate answer
            run.append(row)
        return run, max(0.0, ((run[-1].received_at or now) + window - now).total_seconds())

    async def _wait(self, chat: int, seconds: float) -> None:
        """Sleep until the merge window closes or the chat gets a new update, whichever comes first;
        never longer than a third of the lease, which the caller renews when it looks again."""
        wake = self._wake[chat] = asyncio.Event()
        try:
            async with asyncio.timeout(min(seconds, self.inbox.lease.total_seconds() / 3) + 0.01):
                await wake.wait()
        except TimeoutError:
            pass
        finally:
            self._wake.pop(chat, None)

    async def _handle(self, run: list[InboxUpdate]) -> None:
        first = run[0]
        update = Update.de_json(first.payload, self.app.bot)
        bot = self.app.bot_data.get("coach_bot")
        merging = bot if isinstance(bot, CoachBot) and bot.merges(update) else None
        if merging is not None:  # the run (one part or more) is one answer, graded at once
            merging.expect_merged([Update.de_json(row.payload, self.app.bot) for row in run])
        try:
            await self.app.process_update(update)  # handler errors reach the error handler, which tells the user
        except Exception:
            log.exception("update %s in chat %s failed outside its handler", first.update_id, first.chat_id)
        finally:
            if merging is not None:
                merging.forget_merged(first.update_id)

    async def recover(self) -> None:
        """At start: free this worker's leases from an earlier life and drain what it left."""
        freed = self.inbox.release_all(self.worker)
        if freed:
            log.info("freed %d chat lease(s) held by an earlier %s", freed, self.worker)
        self.sweep()

    def sweep(self) -> None:
        for chat in self.inbox.chats_waiting():
            if chat not in self._draining:
                self.kick(chat)

    async def sweep_forever(self, every: float = SWEEP_EVERY) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                self.sweep()
            except Exception:
                log.exception("the inbox sweep failed; trying again in %.0f s", every)

    def close(self) -> None:
        """Stop waiting on merge windows: answers still being merged stay stored for the next start."""
        self._closing = True
        for wake in list(self._wake.values()):
            wake.set()

    async def idle(self) -> None:
        """Wait until this process has nothing left to drain (for a clean stop)."""
        while self._draining:
            await asyncio.gather(*list(self._draining.values()), return_exceptions=True)


async def poll(app: Application, intake: Intake, timeout: int = 10) -> None:
    """Long polling that stores a batch before the next getUpdates call acknowledges it."""
    await app.bot.delete_webhook(drop_pending_updates=False)
    last = intake.inbox.last_update_id()
    offset = None if last is None else last + 1
    backoff = 1.0
    while True:
        try:
            updates = await app.bot.get_updates(offset=offset, timeout=timeout, allowed_updates=Update.ALL_TYPES)
        except RetryAfter as err:
            await asyncio.sleep(float(err.retry_after if isinstance(err.retry_after, int | float)
                                      else err.retry_after.total_seconds()))
            continue
        except (NetworkError, TelegramError) as err:
            log.warning("getUpdates failed (%s); retrying in %.0f s", err, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = 1.0
        if not updates:
            continue
        try:
            intake.receive([u.to_dict() for u in updates])
        except Exception:  # the database: keep the offset, so Telegram sends these again
            log.exception("could not store %d update(s); they stay unacknowledged", len(updates))
            await asyncio.sleep(1.0)
            continue
        offset = updates[-1].update_id + 1


async def serve_webhook(intake: Intake, secret: str, listen: str, port: int, public_url: str | None = None) -> Any:
    """An HTTP endpoint at /telegram that stores each POSTed update, then answers 200 (and GET
    /healthz for a reverse proxy); with `public_url`, Telegram is told to deliver there (every
    worker behind one URL may say so: it is the same request). Returns the server (`.stop()`)."""
    import tornado.httpserver
    import tornado.web

    class Updates(tornado.web.RequestHandler):
        def post(self) -> None:
            given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                self.set_status(403)
                return
            try:
                payload = json.loads(self.request.body)
                if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
                    raise ValueError("not an update")
            except ValueError:
                self.set_status(400)
                return
            try:
                intake.receive([payload])
            except Exception:  # not stored: a 5xx makes Telegram deliver it again
                log.exception("could not store update %s", payload.get("update_id"))
                self.set_status(503)
                return
            self.set_status(200)

    class Health(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write("ok")

    web = tornado.web.Application([(r"/telegram", Updates), (r"/healthz", Health)], log_function=lambda _h: None)
    server = tornado.httpserver.HTTPServer(web, xheaders=True)
    server.listen(port, listen)
    if public_url:
        await intake.app.bot.set_webhook(f"{public_url.rstrip('/')}/telegram", secret_token=secret,
                                         allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    return server


async def cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
