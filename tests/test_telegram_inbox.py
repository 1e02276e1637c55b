"""The update inbox on the real python-telegram-bot stack: stored first, handled once, in order."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select, text
from telegram.ext import Application

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService, UpdateInbox
from agent.store.models import ChatLeaseRow
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI
from bots.telegram.inbox import Intake, serve_webhook

pytestmark = pytest.mark.anyio
ADA, BOB = 501, 502
ANSWER = "An index avoids a full table scan, so lookups are faster."


@dataclass
class Wired:
    coach: SessionService
    app: Application
    api: FakeBotAPI
    errors: list[BaseException]

    def intake(self, worker: str = "w1", inbox: UpdateInbox | None = None) -> Intake:
        return Intake(self.app, inbox or self.coach.inbox, worker)

    def texts(self, chat: int) -> list[str]:
        return [s.text for s in self.api.replies(chat)]

    def graded_turns(self, chat: int) -> int:
        user = f"tg:{chat}"
        return sum(1 for s in self.coach.sessions(user) for step in self.coach.transcript(s.session_id, user).steps
                   if step.turn.grade is not None)


@pytest.fixture
async def wired(settings: Settings, mini_bank: Catalog) -> AsyncIterator[Wired]:
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        app = build_application(coach, token="123:test", request=api, rate_limit=False)
        w = Wired(coach, app, api, [])

        async def record(update, context) -> None:
            w.errors.append(context.error)

        app.add_error_handler(record)
        async with app:
            yield w
        assert w.errors == [], f"the error handler was reached: {w.errors!r}"


async def test_duplicated_updates_are_handled_once(wired: Wired) -> None:
    """/interview, a button tap and an answer, each delivered twice (once in the same batch)."""
    intake = wired.intake()
    interview = wired.api.text_update(ADA, "/interview sql")
    assert await intake.receive([interview, interview]) == 1
    await intake.idle()
    assert await intake.receive([interview]) == 0  # redelivered after it was handled
    await intake.idle()
    assert sum("What does a database index" in t for t in wired.texts(ADA)) == 1
    assert len(wired.coach.sessions(f"tg:{ADA}")) == 1

    answer = wired.api.text_update(ADA, ANSWER)
    await intake.receive([answer])
    await intake.receive([answer])  # while the first is still being handled
    await intake.idle()
    assert sum(t.startswith("<b>Score") for t in wired.texts(ADA)) == 1
    assert wired.graded_turns(ADA) == 1

    tap = wired.api.callback_update(BOB, "topic:sql")
    await intake.receive([tap])
    await intake.idle()
    await intake.receive([tap])
    await intake.idle()
    assert len(wired.coach.sessions(f"tg:{BOB}")) == 1
    assert len([s for s in wired.api.sent if s.method == "answerCallbackQuery"]) == 1
    assert sum("What does a database index" in t for t in wired.texts(BOB)) == 1


async def test_an_update_stored_but_not_handled_is_handled_after_a_restart(wired: Wired) -> None:
    first = wired.intake()
    await first.receive([wired.api.text_update(ADA, "/interview sql")])
    await first.idle()
    await first.receive([wired.api.text_update(ADA, ANSWER)])
    for task in list(first._draining.values()):  # the process dies: stored, acknowledged, not handled
        task.cancel()
    await asyncio.gather(*first._draining.values(), return_exceptions=True)
    assert not any(t.startswith("<b>Score") for t in wired.texts(ADA))

    second = wired.intake()  # the restarted process (same worker name)
    await second.recover()
    await second.idle()
    assert sum(t.startswith("<b>Score") for t in wired.texts(ADA)) == 1
    assert wired.graded_turns(ADA) == 1
    await second.recover()  # nothing is left: recovering again sends nothing
    await second.idle()
    assert sum(t.startswith("<b>Score") for t in wired.texts(ADA)) == 1


async def test_a_dead_workers_chat_waits_for_its_lease_then_another_worker_drains_it(wired: Wired) -> None:
    inbox = UpdateInbox(wired.coach.store.engine, lease_seconds=0.5)
    update = wired.api.text_update(ADA, "/interview sql")
    assert list(inbox.store([(update["update_id"], ADA, update)])) == [ADA]
    assert inbox.claim(ADA, "dead-worker") is not None  # it claimed the chat, then died

    other = wired.intake("other-worker", inbox)
    await other.sweep()
    await other.idle()
    assert wired.texts(ADA) == []  # the lease is live: nobody else touches the chat
    await asyncio.sleep(0.6)
    await other.sweep()
    await other.idle()
    assert sum("What does a database index" in t for t in wired.texts(ADA)) == 1
    assert inbox.chats_waiting() == [] and not inbox.is_waiting(ADA)


async def test_two_workers_keep_each_chats_order(wired: Wired) -> None:
    """Updates of many chats delivered alternately to two workers: each chat's replies in order."""
    a, b = wired.intake("a"), wired.intake("b")
    chats = list(range(900, 910))
    for n, chat in enumerate(chats):
        await (a if n % 2 else b).receive([wired.api.text_update(chat, "/interview sql")])
    for round_ in range(3):
        for n, chat in enumerate(chats):
            await (a if (n + round_) % 2 else b).receive([wired.api.text_update(chat, "/hint")])
            await (b if (n + round_) % 2 else a).receive([wired.api.text_update(chat, f"{ANSWER} [{chat}:{round_}]")])
    await asyncio.gather(a.idle(), b.idle())
    for chat in chats:
        texts = wired.texts(chat)
        assert "What does a database index" in texts[0]
        assert "💡" in texts[1] and "Score" not in texts[1]  # the first /hint came before the first answer
        assert texts[2].startswith("<b>Score")
        assert wired.graded_turns(chat) >= 1
    assert not wired.coach.inbox.chats_waiting()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PARTS = ["An index avoids a full table scan,", "so lookups are faster.", "Inserts get slower, though."]


def wire(coach: SessionService, api: FakeBotAPI, errors: list[BaseException], merge_window: float) -> Application:
    app = build_application(coach, token="123:test", request=api, rate_limit=False, merge_window=merge_window)

    async def record(update, context) -> None:
        errors.append(context.error)

    app.add_error_handler(record)
    return app


async def test_an_answer_being_merged_survives_a_crash_and_is_graded_once_as_one(
        settings: Settings, mini_bank: Catalog) -> None:
    """Three text parts stored (so acknowledged to Telegram) inside the merge window, then the
    process dies; the restarted bot grades them once, as one answer, with one reply."""
    errors: list[BaseException] = []
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        first_app = wire(coach, api, errors, merge_window=600.0)
        async with first_app:
            first = Intake(first_app, coach.inbox, "w1")
            await first.receive([api.text_update(ADA, "/interview sql")])
            await first.idle()  # a command is never held back
            session = coach.latest_active(f"tg:{ADA}")
            parts = [api.text_update(ADA, p) for p in PARTS]
            for part in parts:
                assert await first.receive([part]) == 1
            await asyncio.sleep(0.2)
            assert list(first._wake) == [ADA]  # the drain waits for the window, it does not spin
            for task in list(first._draining.values()):  # the process dies inside the window
                task.cancel()
            await asyncio.gather(*first._draining.values(), return_exceptions=True)
        assert not any("Score" in s.text or "Merged" in s.text for s in api.replies(ADA))
        assert [row.update_id for row in coach.inbox.pending(ADA)] == [p["update_id"] for p in parts]

    # The restarted process: a new application and service on the same database.
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        second_app = wire(coach, api, errors, merge_window=0.5)
        async with second_app:
            before = len(api.replies(ADA))
            second = Intake(second_app, coach.inbox, "w1")
            await second.recover()
            await second.idle()
            texts = [s.text for s in api.replies(ADA)[before:]]
            assert sum(t.startswith("<b>Score") for t in texts) == 1
            assert texts.count("<i>Merged 3 messages into one answer.</i>") == 1
            steps = coach.transcript(session, f"tg:{ADA}").steps
            assert len([s for s in steps if s.turn.grade is not None]) == 1
            answer = steps[0].turn.answer
            assert [answer.index(p) for p in PARTS] == sorted(answer.index(p) for p in PARTS)
            assert not coach.inbox.is_waiting(ADA)
            assert await second.receive([parts[1]]) == 0  # a redelivered part is not graded again
            await second.recover()
            await second.idle()
            assert sum(s.text.startswith("<b>Score") for s in api.replies(ADA)) == 1
    assert errors == [], f"the error handler was reached: {errors!r}"


async def test_a_later_update_closes_the_merge_window_and_a_stop_keeps_open_answers(
        settings: Settings, mini_bank: Catalog) -> None:
    errors: list[BaseException] = []
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        app = wire(coach, api, errors, merge_window=600.0)
        async with app:
            intake = Intake(app, coach.inbox, "w1")
            await intake.receive([api.text_update(ADA, "/interview sql")])
            await intake.idle()
            await intake.receive([api.text_update(ADA, PARTS[0])])
            await intake.receive([api.text_update(ADA, PARTS[1])])
            await asyncio.sleep(0.1)
            assert not any("Score" in s.text for s in api.replies(ADA))
            before = len(api.replies(ADA))
            await intake.receive([api.text_update(ADA, "/hint")])  # another kind of update: the answer is complete
            await intake.idle()
            texts = [s.text for s in api.replies(ADA)[before:]]
            assert texts[0] == "<i>Merged 2 messages into one answer.</i>" and texts[1].startswith("<b>Score")
            assert any("💡" in t for t in texts[2:])  # the hint came after the answer, as sent
            assert not coach.inbox.is_waiting(ADA)

            # Stopping inside a window: nothing is graded, the part stays stored for the next start.
            await intake.receive([api.text_update(ADA, PARTS[2])])
            await asyncio.sleep(0.1)
            before = len(api.replies(ADA))
            intake.close()
            await intake.idle()
            assert len(api.replies(ADA)) == before
            assert [row.payload["message"]["text"] for row in coach.inbox.pending(ADA)] == [PARTS[2]]
            assert coach.inbox.chats_waiting() == [ADA]  # and no lease is left held
    assert errors == [], f"the error handler was reached: {errors!r}"


async def test_an_answer_graded_by_a_process_that_died_before_replying_is_replied_to_once(wired: Wired) -> None:
    """The earlier process graded the answer (with the update's key) and died before marking the
    update handled, maybe before replying: the restarted bot sends that grade and the next question."""
    intake = wired.intake()
    await intake.receive([wired.api.text_update(ADA, "/interview sql")])
    await intake.idle()
    session = wired.coach.latest_active(f"tg:{ADA}")
    answer = wired.api.text_update(ADA, ANSWER)
    wired.coach.inbox.store([(answer["update_id"], ADA, answer)])  # stored and acknowledged ...
    graded = await wired.coach.answer(session, f"tg:{ADA}", ANSWER, key=f"tg:{answer['update_id']}")  # ... graded
    before = len(wired.texts(ADA))

    restarted = wired.intake()
    await restarted.recover()
    await restarted.idle()
    texts = wired.texts(ADA)[before:]
    assert [t for t in texts if t.startswith("<b>Score")] == texts[:1]
    assert "Sent again" in texts[1] and graded.prompt is not None and graded.prompt.text[:30] in texts[2]
    assert wired.graded_turns(ADA) == 1 and not wired.coach.inbox.is_waiting(ADA)


async def test_parts_stored_by_another_worker_join_the_answer_being_merged(
        settings: Settings, mini_bank: Catalog) -> None:
    """Worker a holds the chat (waiting on its merge window); worker b stores the next part and a
    /hint but cannot take the chat: a finds both when it looks again, in order."""
    errors: list[BaseException] = []
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
        api = FakeBotAPI()
        app = wire(coach, api, errors, merge_window=1.0)
        async with app:
            a, b = Intake(app, coach.inbox, "a"), Intake(app, coach.inbox, "b")
            await a.receive([api.text_update(ADA, "/interview sql")])
            await a.idle()
            before = len(api.replies(ADA))
            await a.receive([api.text_update(ADA, PARTS[0])])
            await asyncio.sleep(0.1)
            await b.receive([api.text_update(ADA, PARTS[1])])
            await b.receive([api.text_update(ADA, "/hint")])
            assert not b._draining  # a holds the chat's lease
            await asyncio.gather(a.idle(), b.idle())
            texts = [s.text for s in api.replies(ADA)[before:]]
            assert texts[0] == "<i>Merged 2 messages into one answer.</i>" and texts[1].startswith("<b>Score")
            assert any("💡" in t for t in texts[2:]) and sum(t.startswith("<b>Score") for t in texts) == 1
            assert not coach.inbox.is_waiting(ADA)
    assert errors == [], f"the error handler was reached: {errors!r}"


async def test_a_webhook_post_answers_200_once_stored_and_the_loop_serves_others_while_it_waits(wired: Wired) -> None:
    """The inbox's transactions run off the event loop: while one waits on a row lock another
    worker holds, the same process still answers /healthz; the update's 200 comes only once the
    insert has committed, and the chat's updates are then handled in order."""
    engine = wired.coach.store.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("needs a row lock held by another connection (PostgreSQL)")
    intake = wired.intake()
    await intake.receive([wired.api.text_update(ADA, "/interview sql")])
    await intake.idle()
    port = free_port()
    server = await serve_webhook(intake, "s3cret", "127.0.0.1", port)
    hint = wired.api.text_update(ADA, "/hint")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            with engine.connect() as blocker, blocker.begin():  # another worker's transaction holds the lease row
                # A loop blocked on the lock could not release it: the server does, after 30 s, and the
                # assertions below then fail instead of hanging.
                blocker.execute(text("SET LOCAL idle_in_transaction_session_timeout = '30s'"))
                blocker.execute(select(ChatLeaseRow).where(ChatLeaseRow.chat_id == ADA).with_for_update())
                posting = asyncio.create_task(client.post("/telegram", json=hint,
                                                          headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}))
                for _ in range(3):
                    assert (await client.get("/healthz")).text == "ok"  # the loop is not stuck behind the lock
                assert not posting.done()  # not acknowledged: the update is not committed yet
                assert wired.coach.inbox.last_update_id() != hint["update_id"]
            response = await posting
            assert response.status_code == 200
            assert wired.coach.inbox.last_update_id() == hint["update_id"]  # stored before its 200
    finally:
        server.stop()
    await intake.idle()
    texts = wired.texts(ADA)
    assert "What does a database index" in texts[0] and "💡" in texts[-1]
    assert not wired.coach.inbox.is_waiting(ADA)
