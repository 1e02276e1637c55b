"""Twenty seeded `kill -9` points in a real `coach interview` (while starting, while grading, around
a code run), each followed by `coach interview --resume`: every answer the candidate saw graded is
kept, the checkpoint and the store agree, and every session resumes or finishes.
(Telegram's kill points after an answer belong to the bot's own tests.)"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.service import SessionService, open_catalog

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
GRADED = re.compile(r"^score \d+%", re.MULTILINE)
RUNS = 20


def _coach(module: str, args: list[str], lines: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], input="\n".join(lines) + "\n", env=env,
                          capture_output=True, text=True, timeout=300)


def _plan(rng: random.Random, run: int) -> tuple[list[str], int, str]:
    """(interview arguments, kill at the Nth durable operation, before or after it)."""
    if run % 2:  # a coding round: start, the code run, its grading, a follow-up, the end: 7 operations
        return ["--format", "code"], rng.randint(1, 7), rng.choice(["before", "after"])
    return ["--topic", "sql", "--questions", "2"], rng.randint(1, 12), rng.choice(["before", "after"])


@pytest.mark.slow
async def test_twenty_kill_points_lose_nothing_and_every_session_resumes(settings: Settings) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(settings.home_dir), "COLUMNS": "200"}
    if settings.database_url:
        env["COACH_DATABASE_URL"] = settings.database_url
    rng = random.Random(15)
    killed = 0
    for run in range(RUNS):
        user = f"k{run}"
        args, kill_at, when = _plan(rng, run)
        first = [f"def f(x):  # {user}-0" if args[1] == "code" else f"{user}-0: an index avoids a full scan"]
        first += [f"{user}-{i}: reads get faster and writes slower, the index costs storage" for i in range(1, 8)]
        crashed = _coach("tests.drivers.crash_coach", ["interview", "--offline", "--user", user, *args], first,
                         {**env, "COACH_TEST_KILL_AT": str(kill_at), "COACH_TEST_KILL_WHEN": when})
        assert crashed.returncode in (0, -9), crashed.stderr[-2000:]
        killed += crashed.returncode == -9
        acknowledged = len(GRADED.findall(crashed.stdout))
        point = f"run {run}: kill {when} operation {kill_at} ({args[1]})"

        rest = [f"{user}-r{i}: it trades write speed and storage for read speed" for i in range(8)]
        if run % 5 == 0:  # through the real CLI now and then; through the service (what it calls) otherwise
            resumed = _coach("bots.cli", ["interview", "--resume", "--user", user], rest, env)
            assert "Traceback" not in resumed.stderr, f"{point}\n{resumed.stderr[-3000:]}"
            if resumed.returncode == 0:
                assert "continuing session" in resumed.stdout and "Report · session" in resumed.stdout, point
            else:
                assert resumed.returncode == 2 and "no unfinished session" in resumed.stderr, point
        async with SessionService.open(settings, offline=True, catalog=open_catalog(settings)) as coach:
            if run % 5:
                active = coach.latest_active(user)
                if active is not None:
                    step = await coach.resume(active, user)
                    for line in rest:
                        if step.finished:
                            break
                        step = await coach.answer(active, user, line)
                    assert step.finished, point
            sessions = coach.sessions(user)
            if not sessions:  # killed before the session existed: nothing was shown as graded
                assert acknowledged == 0, point
                continue
            assert len(sessions) == 1 and sessions[0].status == "finished", point
            sid = sessions[0].session_id
            graph = await coach._interview_graph()
            values: dict[str, Any] = (await graph.aget_state(coach._config(sid))).values
            rows = lambda turns: [(t.seq, t.answer, t.outcome, t.grade.score if t.grade else None)  # noqa: E731
                                  for t in turns]
            stored = coach.store.turns(sid)
            assert rows(values["turns"]) == rows(stored), f"{point}: checkpoint and store disagree"
            answers = [t.answer for t in stored if t.outcome == "answered"]
            assert answers[:acknowledged] == first[:acknowledged], f"{point}: a graded answer was lost"
            assert len(set(answers)) == len(answers) and set(answers) <= set(first) | set(rest), point
    assert killed >= RUNS // 2  # the kill points land inside the interviews, not after them
