"""One writer per session across processes: the database lease, SessionBusy, and two real
processes answering one session at once (checkpoint == store, every answer graded once or refused)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import Limits, Settings
from agent.errors import SessionBusy
from agent.service import SessionService
from agent.store.locks import HOST, SessionLocks
from agent.store.repository import Store
from tests.conftest import MINI_BANK

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.anyio


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store.open(settings.db_url)
    yield store
    store.close()


def test_a_held_session_is_refused_to_another_holder_until_released(store: Store) -> None:
    engine = store.engine
    mine, theirs = SessionLocks(engine, lease_s=60), SessionLocks(engine, lease_s=60)
    assert mine.try_take("s1")
    assert mine.try_take("s1")  # re-taking our own lease renews it
    assert not theirs.try_take("s1")
    assert theirs.try_take("s2")  # other sessions are independent
    mine.release("s1")
    assert theirs.try_take("s1")
    assert not mine.renew("s1")  # the lease moved on: renewing it must not steal it back


def test_a_lapsed_lease_and_a_dead_holder_on_this_host_are_taken_over(store: Store) -> None:
    engine = store.engine
    brief = SessionLocks(engine, lease_s=0.05)
    assert brief.try_take("s1")
    other = SessionLocks(engine, lease_s=60)
    assert not other.try_take("s1")
    time.sleep(0.1)
    assert other.try_take("s1")  # a holder killed on another machine frees the session one lease later

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = SessionLocks(engine, lease_s=600)
    ghost.owner = f"{HOST}:{dead.pid}:deadbeef"  # what a `kill -9`ed process leaves behind
    assert ghost.try_take("s3")
    assert other.try_take("s3")  # at once, not after ten minutes


async def test_an_action_on_a_session_held_elsewhere_waits_then_says_busy(
    settings: Settings, mini_bank: Any
) -> None:
    quick = settings.model_copy(update={"limits": Limits(session_busy_wait_s=0.3)})
    async with SessionService.open(quick, offline=True, catalog=mini_bank) as coach:
        step = await coach.start("ann", topic="sql", questions=1)
        elsewhere = SessionLocks(coach.store.engine, lease_s=60)  # another process or machine
        assert elsewhere.try_take(step.session_id)
        with pytest.raises(SessionBusy, match="busy in another window or device; nothing was saved"):
            await coach.answer(step.session_id, "ann", "An index avoids a full table scan.")
        assert coach.store.turns(step.session_id) == []
        elsewhere.release(step.session_id)
        done = await coach.answer(step.session_id, "ann", "An index avoids a full table scan.")
        assert [t.answer for t in done.graded] == ["An index avoids a full table scan."]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(settings.home_dir),
           "COACH_BANK_DIR": str(MINI_BANK), **extra}
    if settings.database_url:
        env["COACH_DATABASE_URL"] = settings.database_url
    return env


def _driver(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.drivers.session_driver", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def checkpoint_and_store(coach: SessionService, session_id: str) -> tuple[list[Any], list[Any]]:
    graph = await coach._interview_graph()
    values = (await graph.aget_state(coach._config(session_id))).values
    as_rows = lambda turns: [(t.seq, t.answer, t.outcome, t.grade.score if t.grade else None) for t in turns]  # noqa: E731
    return as_rows(values.get("turns", [])), as_rows(coach.store.turns(session_id))


@pytest.mark.slow
@pytest.mark.parametrize("wait_s", ["5", "0"])
async def test_two_processes_answering_one_session_lose_nothing(
    settings: Settings, mini_bank: Any, tmp_path: Path, wait_s: str
) -> None:
    """Three rounds: two real processes answer the same session at the same moment. With a wait,
    they take turns; with none, one is told the session is busy. Either way every answer is graded
    and stored exactly once or refused, and the checkpoint and the store agree."""
    env = _env(settings, COACH_LIMITS__SESSION_BUSY_WAIT_S=wait_s)
    for round_ in range(3):
        async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
            session_id = (await coach.start("twin", questions=3)).session_id
        go = tmp_path / f"go-{round_}"
        writers = [_driver("answer", session_id, "twin", tag, "4", str(go), env=env) for tag in ("a", "b")]
        for proc in writers:  # both are warm and waiting
            assert proc.stdout is not None and json.loads(proc.stdout.readline()) == {"ready": True}
        go.touch()
        results: list[dict[str, Any]] = []
        for proc in writers:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
            results += [json.loads(line) for line in out.splitlines()]
        graded = [r["text"] for r in results if r.get("graded") == [r["text"]]]
        refused = [r for r in results if "busy" in r or "closed" in r]
        assert all("another window or device" in r["busy"] for r in refused if "busy" in r)
        async with SessionService.open(settings, offline=True, catalog=mini_bank) as coach:
            checkpoint, store = await checkpoint_and_store(coach, session_id)
        assert checkpoint == store, f"round {round_}: checkpoint and store disagree"
        answered = [answer for _seq, answer, outcome, _score in store if outcome == "answered"]
        assert sorted(answered) == sorted(graded), f"round {round_}: {results}"
        assert len(set(answered)) == len(answered)
        for r in results:  # nothing acknowledged twice, nothing stored that was refused
            if "busy" in r or "closed" in r:
                assert r["text"] not in answered
        if wait_s == "5":
            assert not [r for r in refused if "busy" in r]  # offline grading takes far less than 5 s
