"""Every session can be resumed or is closed cleanly: a session exists only with its first
checkpoint; a session row without one (an older version killed while starting, an unfinished
session imported from a backup) closes with its answers kept; never `KeyError: 'user'`.
And every loop is bounded offline: a bank whose probes echo the model answer still finishes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent.catalog import Catalog
from agent.config import Settings
from agent.errors import SessionClosed
from agent.llm.offline import OfflineLLM
from agent.llm.port import Ask, AskRequest, Reply
from agent.service import SessionService

pytestmark = pytest.mark.anyio

ANSWER = "An index avoids a full table scan, so reads get faster."


async def test_a_start_that_dies_before_its_first_checkpoint_leaves_no_session(coach: SessionService) -> None:
    graph = await coach._interview_graph()
    saver = graph.checkpointer
    real_put = saver.aput

    async def dies(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")  # what a kill at this point leaves: no checkpoint

    saver.aput = dies
    with pytest.raises(OSError):
        await coach.start("ida", topic="sql", questions=1)
    saver.aput = real_put
    assert coach.sessions("ida") == [] and coach.latest_active("ida") is None
    step = await coach.start("ida", topic="sql", questions=1)  # the next start is the only session
    assert [s.session_id for s in coach.sessions("ida")] == [step.session_id]


async def test_a_session_row_without_a_checkpoint_closes_cleanly_on_resume_answer_and_end(
    coach: SessionService,
) -> None:
    # What an older coach left when killed between saving the session and its first checkpoint.
    orphans = [coach.store.create_session("jo", "concept", ["sql"], 2, "offline") for _ in range(3)]
    assert coach.latest_active("jo") in orphans

    resumed = await coach.resume(orphans[0], "jo")
    assert resumed.finished and resumed.report is not None and resumed.prompt is None
    assert "no saved interview state" in resumed.notice and "coach interview" in resumed.notice

    with pytest.raises(SessionClosed, match=r"no saved interview state.*Start a new one"):
        await coach.answer(orphans[1], "jo", ANSWER)

    ended = await coach.end(orphans[2], "jo")  # Telegram ends the old session when a new one starts
    assert ended.finished
    assert {coach.store.session(s, "jo").status for s in orphans} == {"finished"}
    assert coach.latest_active("jo") is None
    again = await coach.resume(orphans[0], "jo")  # closed for good, and still readable
    assert again.finished and again.notice == ""


async def test_an_unfinished_session_imported_from_a_backup_closes_with_its_answers(
    coach: SessionService, tmp_path: Path, mini_bank: Catalog
) -> None:
    step = await coach.start("kai", topic="sql", questions=2)
    await coach.answer(step.session_id, "kai", ANSWER)
    backup = coach.export("kai")
    assert backup.transcripts[0].status == "active"

    elsewhere = Settings(home=tmp_path / "other-machine")  # a new database and no checkpoints
    async with SessionService.open(elsewhere, offline=True, catalog=mini_bank) as other:
        assert other.import_backup(backup) == (1, 0)
        assert other.latest_active("kai") == step.session_id
        resumed = await other.resume(step.session_id, "kai")
        assert resumed.finished and "restored from a backup" in resumed.notice
        assert [t.answer for t in other.store.turns(step.session_id)] == [ANSWER]
        assert other.sessions("kai")[0].status == "finished"
        started = await other.start("kai", topic="sql", questions=1)  # and the user carries on
        assert started.prompt is not None


class CountingOffline(OfflineLLM):
    def __init__(self) -> None:
        super().__init__()
        self.asks = 0

    async def ask(self, request: AskRequest) -> Reply[Ask]:
        self.asks += 1
        if self.asks > 50:  # an unbounded retry never yields to the event loop: stop it here
            raise AssertionError("the interviewer keeps asking the model for the same probe")
        return await super().ask(request)


async def test_probes_that_echo_the_model_answer_offline_still_finish(tmp_path: Path) -> None:
    """The interviewer re-asks a probe that gives the answer away; offline the model says the same
    thing every time, so the retries must stop on their own (they once spun at 100% CPU)."""
    model_answer = "Keys and values of earlier tokens are stored and reused instead of recomputed at every step."
    bank = tmp_path / "echo-bank"
    bank.mkdir()
    (bank / "echo.yaml").write_text(f"""
- id: caching.echo
  topic: caching
  difficulty: 2
  prompt: Why keep a KV cache?
  key_points:
    - id: reuse
      text: reuses keys and values
      signals: ["reuse keys and values"]
    - id: cost
      text: memory grows
      signals: ["memory grows"]
  model_answer: {model_answer}
  follow_ups:
    - key_point: reuse
      prompt: "Would you say: {model_answer}"
    - key_point: cost
      prompt: "Is it true that {model_answer.lower()}"
""")
    llm = CountingOffline()
    settings = Settings(home=tmp_path / "home")
    async with SessionService.open(settings, llm=llm, catalog=Catalog.load(bank)) as coach:
        async def interview() -> int:
            step = await coach.start("lee", topic="caching", questions=1)
            actions = 0
            while not step.finished and actions < 10:  # 1 answer + at most 2 probes
                step = await coach.answer(step.session_id, "lee", "It is faster.")
                actions += 1
            return actions

        actions = await asyncio.wait_for(interview(), timeout=120)  # a hang guard, not a speed check
    assert actions == 3
    calls = settings.limits.model_calls_per_turn
    assert 0 < llm.asks <= 2 * calls  # each probe's retries stop at the per-turn model-call cap
