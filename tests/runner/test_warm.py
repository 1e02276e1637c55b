"""Warm sandboxes reuse one bubblewrap sandbox for many jobs: nothing of one job may reach the next.

The attacks in test_hostile.py run against warm sandboxes too; these check what is specific to
reuse: the wipe between jobs, the worker's memory, and replacing a broken or timed-out worker.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest

from agent.domain import CallCase, Challenge
from tests.runner.test_hostile import ATTACKS, CHALLENGE, job_processes
from tools.runner import CodeRunner, SandboxLimits

LEAVE_TRACES = """
import os, subprocess
def solve():
    with open("/tmp/note-from-the-last-candidate", "w") as f:
        f.write("my solution")
    subprocess.Popen(["sleep", "60"], start_new_session=True)
    return 1
"""
LOOK_AROUND = """
import os
def solve():
    # the candidate's process runs under the judging process, which runs under the worker
    me, judge = os.getpid(), os.getppid()
    worker = int(open("/proc/%d/stat" % judge).read().rsplit(")", 1)[1].split()[1])
    others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me, judge, worker))
    memory = "blocked"
    for pid in (judge, worker):
        try:
            with open("/proc/%d/mem" % pid, "rb") as f:
                f.read(1)
            memory = "readable"
        except OSError:
            pass
    return [os.listdir("/tmp"), os.listdir("/dev/shm"), others, memory]
"""
KILL_THE_WORKER = """
import os, signal
def solve():
    worker = int(open("/proc/%d/stat" % os.getppid()).read().rsplit(")", 1)[1].split()[1])
    os.kill(worker, signal.SIGKILL)
    return 1
"""


def _expecting(expected: object) -> Challenge:
    return Challenge(id="probe", title="probe", statement="-", entry_point="solve", starter="-",
                     reference_solution="-", cases=(CallCase(args=(), expected=expected),))


@pytest.mark.slow
def test_a_warm_sandbox_is_wiped_between_jobs_and_replaced_when_broken() -> None:
    runner = CodeRunner(SandboxLimits(wall_seconds=3.0), warm_workers=1)
    try:
        assert runner.run_challenge(LEAVE_TRACES, _expecting(1)).status == "passed"
        # the next candidate sees an empty /tmp, no leftover process, and cannot read the worker
        look = runner.run_challenge(LOOK_AROUND, _expecting([[], [], [], "blocked"]))
        assert look.status == "passed", look.tests
        assert job_processes(runner) == []
        first = runner.pool.worker_pids()
        runner.run_challenge(KILL_THE_WORKER, _expecting(1))  # its own verdict may go either way
        assert runner.run_challenge(CHALLENGE.reference_solution, CHALLENGE).status == "passed"
        assert runner.pool.worker_pids().isdisjoint(first), "a broken worker was reused"
        assert runner.run_challenge(textwrap.dedent(ATTACKS["sleep forever"]), CHALLENGE).status == "timeout"
        assert runner.run_challenge(CHALLENGE.reference_solution, CHALLENGE).status == "passed"
        assert job_processes(runner) == []
    finally:
        runner.close()
    assert job_processes() == [], "closing the runner left a warm sandbox behind"


def test_an_idle_worker_killed_from_outside_is_replaced_without_losing_the_job() -> None:
    runner = CodeRunner(warm_workers=1)
    try:
        assert runner.run_challenge(CHALLENGE.reference_solution, CHALLENGE).status == "passed"
        (outer,) = runner.pool.worker_pids()
        os.killpg(outer, signal.SIGKILL)
        time.sleep(0.2)
        assert runner.run_challenge(CHALLENGE.reference_solution, CHALLENGE).status == "passed"
        assert outer not in runner.pool.worker_pids()
    finally:
        runner.close()


@pytest.mark.anyio
async def test_the_warm_setting_reaches_the_in_process_runner(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.config import Settings
    from agent.service import SessionService

    sizes: list[int] = []

    def spy(limits=None, allow_unsafe: bool = False, warm_workers: int = 0) -> CodeRunner:
        sizes.append(warm_workers)
        return CodeRunner()

    monkeypatch.setattr("agent.code_runner.CodeRunner", spy)
    monkeypatch.setenv("COACH_RUNNER_WARM", "3")
    async with SessionService.open(Settings(home=tmp_path), offline=True) as coach:
        assert sizes == []  # the runner starts with the first code to run
        assert coach.runner is coach.runner
    assert sizes == [3]
