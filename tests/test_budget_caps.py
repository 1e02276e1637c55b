"""Budget caps hold per billed request, on SQLite and PostgreSQL: under concurrency (tasks, threads
and two processes), with retries (invalid output, error statuses, dropped connections) and with a
process killed mid-call. The real Anthropic SDK talks to `tests.billed_api.BilledAPI` over a mock
HTTP transport, which bills like the real API and counts every request it sees."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from agent.catalog import Catalog
from agent.config import Budgets, Limits, Settings
from agent.guardrails import GuardedLLM, budget_scopes
from agent.llm.port import BilledRequest, GradeRequest
from agent.service import SessionService
from agent.store.budget import BudgetLedger, Scope
from agent.store.models import BudgetReservationRow, BudgetRow
from agent.store.process_owner import current_owner
from agent.store.repository import open_engine
from tests.billed_api import BANK, BilledAPI, gate_for, grade_answers, script_for

ROOT = Path(__file__).resolve().parent.parent
REQUEST_CAP = 3
CAP = 0.10
"""Less than the answers below bill without a cap (about $0.21; those the model can serve alone
bill about $0.12): the cap binds."""


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = open_engine(settings.db_url)
    yield engine
    engine.dispose()


def _budget(engine: Engine, scope: str) -> BudgetRow:
    with engine.connect() as conn:
        return conn.execute(select(BudgetRow).where(BudgetRow.scope == scope)).one()


def _global_scope() -> str:
    return budget_scopes(Budgets(), "x", "x")[2].key


def _open_reservations(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(BudgetReservationRow.id)).all())


def _assert_cap_held(engine: Engine, requests: dict[int, int], billed_usd: float, graders: dict[int, str]) -> None:
    row = _budget(engine, _global_scope())
    assert row.spent_usd <= CAP + 1e-9  # the cap holds ...
    assert row.spent_usd == pytest.approx(billed_usd)  # ... and the ledger is what the API billed
    assert row.reserved_usd == pytest.approx(0.0, abs=1e-9) and _open_reservations(engine) == 0
    assert 2 <= max(requests.values()) <= REQUEST_CAP  # retries went out, never past the request cap
    assert "claude-sonnet-4-6" in graders.values()
    servable = [i for i in graders if script_for(i)[-1] == "ok" and len(script_for(i)) <= REQUEST_CAP]
    assert any(graders[i] == "offline" for i in servable)  # the budget stopped some the model would serve


def test_concurrent_answers_with_retries_hold_the_cap_in_tasks_and_threads(engine: Engine) -> None:
    budgets = Budgets(session_usd=CAP, user_daily_usd=CAP, global_daily_usd=CAP)
    ledger = BudgetLedger(engine)
    answers = range(24)
    api = BilledAPI({i: script_for(i) for i in answers})
    limits = Limits(model_calls_per_turn=REQUEST_CAP)

    def thread(part: range) -> dict[int, str]:  # each thread its own event loop and client
        return asyncio.run(grade_answers(api, gate_for(ledger, budgets), budgets, limits, part))

    with ThreadPoolExecutor(4) as pool:
        graders: dict[int, str] = {}
        for done in pool.map(thread, [answers[k::4] for k in range(4)]):
            graders |= done
    _assert_cap_held(engine, dict(api.requests), api.billed_usd, graders)


def _worker(url: str, mode: str, first: int, count: int, ready: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "tests.billed_api", url, mode, str(first), str(count), str(CAP)]
    return subprocess.Popen([*args, *([str(ready)] if ready else [])], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow  # two Python processes start (about 5 s on a quiet machine)
def test_two_processes_with_retries_hold_the_cap(settings: Settings, engine: Engine) -> None:
    workers = [_worker(settings.db_url, "grade", first, 12) for first in (0, 12)]
    requests: dict[int, int] = {}
    billed, graders = 0.0, {}  # type: dict[int, str]
    for proc in workers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        tally = json.loads(out)
        requests |= {int(k): v for k, v in tally["requests"].items()}
        billed += tally["billed_usd"]
        graders |= {int(k): v for k, v in tally["graders"].items()}
    assert len(graders) == 24
    _assert_cap_held(engine, requests, billed, graders)


@pytest.mark.slow  # a Python process starts
def test_a_process_killed_mid_call_leaves_a_reservation_that_is_reconciled(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    ready = tmp_path / "request-sent"
    proc = _worker(settings.db_url, "hang", 0, 1, ready)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the worker never sent its request"
        time.sleep(0.05)
    ledger = BudgetLedger(engine)
    held = _budget(engine, _global_scope()).reserved_usd
    assert held > 0 and _open_reservations(engine) == 1
    assert ledger.reconcile() == 0  # its owner is alive: the reservation stands
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: its pid is gone
    assert ledger.reconcile() == 1
    assert ledger.reconcile() == 0  # once
    row = _budget(engine, _global_scope())
    assert row.reserved_usd == pytest.approx(0.0, abs=1e-9) and _open_reservations(engine) == 0
    assert row.spent_usd == pytest.approx(held)  # settled at its worst case: it may have been billed


def test_a_crashed_reservation_is_reconciled_by_the_next_reservation(engine: Engine) -> None:
    ledger = BudgetLedger(engine)
    scopes = [Scope("global:day", 0.10)]
    dead = ledger.reserve(scopes, 0.08)
    with engine.begin() as conn:  # as if a process that is no longer running had reserved it
        host, boot, _pid, start = current_owner().rsplit("/", 3)
        conn.execute(update(BudgetReservationRow).values(owner=f"{host}/{boot}/999999999/{start}"))
    ledger.settle(ledger.reserve(scopes, 0.02), 0.01)  # fits only once the dead one is released
    row = _budget(engine, "global:day")
    assert row.spent_usd == pytest.approx(0.08 + 0.01) and row.reserved_usd == pytest.approx(0.0, abs=1e-9)
    ledger.settle(dead, 0.0)  # a late settle of the reconciled one corrects spend by actual - estimate
    assert _budget(engine, "global:day").spent_usd == pytest.approx(0.01)


def test_reservations_of_other_hosts_wait_for_their_expiry(engine: Engine) -> None:
    ledger = BudgetLedger(engine)
    ledger.reserve([Scope("global:day", 1.0)], 0.3)
    with engine.begin() as conn:
        conn.execute(update(BudgetReservationRow).values(owner="another-host/boot/1/1"))
    assert ledger.reconcile() == 0  # a live owner elsewhere cannot be seen: wait for the expiry
    with engine.begin() as conn:
        conn.execute(update(BudgetReservationRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert ledger.reconcile() == 1
    assert _budget(engine, "global:day").spent_usd == pytest.approx(0.3)


@pytest.mark.anyio
async def test_a_dropped_connection_is_charged_its_worst_case_and_retried(engine: Engine) -> None:
    budgets = Budgets(session_usd=1.0)
    gate = gate_for(BudgetLedger(engine), budgets)
    api = BilledAPI({0: ["drop", "ok"]})
    scopes = budget_scopes(budgets, "ann", "s1")
    guarded = GuardedLLM(api.llm(), gate, scopes, 0, Limits())
    reply = await guarded.grade(GradeRequest(question=BANK.question("sql.index"), answer="answer-0: it avoids a scan"))
    assert reply.value.grader == "claude-sonnet-4-6" and guarded.calls == 2 and api.requests[0] == 2
    worst = gate.worst_case(BilledRequest("grade", "claude-sonnet-4-6", api.bodies[0], 1024))
    assert _budget(engine, scopes[0].key).spent_usd == pytest.approx(worst + api.billed_usd)


@pytest.mark.anyio
async def test_an_invalid_reply_is_not_retried_past_the_session_cap(settings: Settings, mini_bank: Catalog) -> None:
    """The overspend of the issue: the grader's retry went out inside the first request's
    reservation (a $0.03 session spent $0.0349). Now the retry must fit on its own, or is not sent."""
    settings = settings.model_copy(update={"budgets": Budgets(session_usd=0.03)})
    api = BilledAPI({1: ["invalid", "ok"]})
    async with SessionService.open(settings, llm=api.llm(), catalog=mini_bank) as coach:
        step = await coach.start("ann", topic="sql", questions=1)
        step = await coach.answer(step.session_id, "ann", "answer-1: an index avoids a full table scan")
        [turn] = coach.store.turns(step.session_id)
        spent = _budget(coach.store.engine, f"session:{step.session_id}").spent_usd
    assert api.models["claude-sonnet-4-6"] == 1  # the grader's retry would not fit: not sent
    assert spent == pytest.approx(api.billed_usd) and spent <= 0.03
    assert turn.grade.grader == "offline"
    assert any("budget is used up" in e.message for e in turn.guardrail_events)
