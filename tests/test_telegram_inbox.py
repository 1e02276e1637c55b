"""The update inbox on the real python-telegram-bot stack: stored first, handled once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from telegram.ext import Application

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService, UpdateInbox
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI
from bots.telegram.inbox import Intake

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
    assert intake.receive([interview, interview]) == 1
    await intake.idle()
    assert intake.receive([interview]) == 0  # redelivered after it was handled
    await intake.idle()
    assert sum("What does a database index" in t for t in wired.texts(ADA)) == 1
    assert len(wired.coach.sessions(f"tg:{ADA}")) == 1

    answer = wired.api.text_update(ADA, ANSWER)
    intake.receive([answer])
    intake.receive([answer])  # while the first is still being handled
    await intake.idle()
    assert sum(t.startswith("<b>Score") for t in wired.texts(ADA)) == 1
    assert wired.graded_turns(ADA) == 1

    tap = wired.api.callback_update(BOB, "topic:sql")
    intake.receive([tap])
    await intake.idle()
    intake.receive([tap])
    await intake.idle()
    assert len(wired.coach.sessions(f"tg:{BOB}")) == 1
    assert len([s for s in wired.api.sent if s.method == "answerCallbackQuery"]) == 1
    assert sum("What does a database index" in t for t in wired.texts(BOB)) == 1


async def test_an_update_stored_but_not_handled_is_handled_after_a_restart(wired: Wired) -> None:
    first = wired.intake()
    first.receive([wired.api.text_update(ADA, "/interview sql")])
    await first.idle()
    first.receive([wired.api.text_update(ADA, ANSWER)])
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
    other.sweep()
    await other.idle()
    assert wired.texts(ADA) == []  # the lease is live: nobody else touches the chat
    await asyncio.sleep(0.6)
    other.sweep()
    await other.idle()
    assert sum("What does a database index" in t for t in wired.texts(ADA)) == 1
    assert inbox.chats_waiting() == [] and not inbox.is_waiting(ADA)


async def test_two_workers_keep_each_chats_order(wired: Wired) -> None:
    """Updates of many chats delivered alternately to two workers: each chat's replies in order."""
    a, b = wired.intake("a"), wired.intake("b")
    chats = list(range(900, 910))
    for n, chat in enumerate(chats):
        (a if n % 2 else b).receive([wired.api.text_update(chat, "/interview sql")])
    for round_ in range(3):
        for n, chat in enumerate(chats):
            (a if (n + round_) % 2 else b).receive([wired.api.text_update(chat, "/hint")])
            (b if (n + round_) % 2 else a).receive([wired.api.text_update(chat, f"{ANSWER} [{chat}:{round_}]")])
    await asyncio.gather(a.idle(), b.idle())
    for chat in chats:
        texts = wired.texts(chat)
        assert "What does a database index" in texts[0]
        assert "💡" in texts[1] and "Score" not in texts[1]  # the first /hint came before the first answer
        assert texts[2].startswith("<b>Score")
        assert wired.graded_turns(chat) >= 1
    assert not wired.coach.inbox.chats_waiting()


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
            first.receive([api.text_update(ADA, "/interview sql")])
            await first.idle()  # a command is never held back
            session = coach.latest_active(f"tg:{ADA}")
            parts = [api.text_update(ADA, p) for p in PARTS]
            for part in parts:
                assert first.receive([part]) == 1
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
            assert second.receive([parts[1]]) == 0  # a redelivered part is not graded again
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
            intake.receive([api.text_update(ADA, "/interview sql")])
            await intake.idle()
            intake.receive([api.text_update(ADA, PARTS[0])])
            intake.receive([api.text_update(ADA, PARTS[1])])
            await asyncio.sleep(0.1)
            assert not any("Score" in s.text for s in api.replies(ADA))
            before = len(api.replies(ADA))
            intake.receive([api.text_update(ADA, "/hint")])  # another kind of update: the answer is complete
            await intake.idle()
            texts = [s.text for s in api.replies(ADA)[before:]]
            assert texts[0] == "<i>Merged 2 messages into one answer.</i>" and texts[1].startswith("<b>Score")
            assert any("💡" in t for t in texts[2:])  # the hint came after the answer, as sent
            assert not coach.inbox.is_waiting(ADA)

            # Stopping inside a window: nothing is graded, the part stays stored for the next start.
            intake.receive([api.text_update(ADA, PARTS[2])])
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
    intake.receive([wired.api.text_update(ADA, "/interview sql")])
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
            a.receive([api.text_update(ADA, "/interview sql")])
            await a.idle()
            before = len(api.replies(ADA))
            a.receive([api.text_update(ADA, PARTS[0])])
            await asyncio.sleep(0.1)
            b.receive([api.text_update(ADA, PARTS[1])])
            b.receive([api.text_update(ADA, "/hint")])
            assert not b._draining  # a holds the chat's lease
            await asyncio.gather(a.idle(), b.idle())
            texts = [s.text for s in api.replies(ADA)[before:]]
            assert texts[0] == "<i>Merged 2 messages into one answer.</i>" and texts[1].startswith("<b>Score")
            assert any("💡" in t for t in texts[2:]) and sum(t.startswith("<b>Score") for t in texts) == 1
            assert not coach.inbox.is_waiting(ADA)
    assert errors == [], f"the error handler was reached: {errors!r}"
