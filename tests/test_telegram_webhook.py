"""Scale-out: two `coach telegram --webhook` workers and one code-runner MCP server, as real processes
on loopback over one PostgreSQL database, hold a whole interview whose updates arrive alternately."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService
from tests.conftest import _postgres_database
from tests.test_telegram_polling import ROOT, TOKEN, BotAPIServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SECRET = "webhook-secret-for-tests"
CHAT = 42


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited: {proc.communicate()[1][-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited: {proc.communicate()[1][-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def post(url: str, update: dict, secret: str = SECRET) -> int:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def database() -> Iterator[str]:
    yield from _postgres_database()


def test_two_webhook_workers_and_a_runner_pool_hold_a_whole_interview(database: str, coach_home: Path) -> None:
    bot_api = BotAPIServer()
    runner_port, ports = free_port(), [free_port(), free_port()]
    base = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(coach_home), "DATABASE_URL": database}
    procs: list[subprocess.Popen] = []
    try:
        runner = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "mcp", "--transport", "http", "--port", str(runner_port), "--offline"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**base, "COACH_UNSAFE_RUNNER": "0"})
        procs.append(runner)
        wait_port(runner_port, runner)
        worker_env = {**base, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                      "COACH_RUNNER_URL": f"http://127.0.0.1:{runner_port}/mcp"}
        for port in ports:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bots.cli", "telegram", "--offline", "--webhook", "https://coach.example",
                 "--port", str(port), "--base-url", bot_api.url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=worker_env))
        for port, proc in zip(ports, procs[1:], strict=True):
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        urls = [f"http://127.0.0.1:{port}/telegram" for port in ports]
        hooks = [s.params for s in bot_api.api.sent if s.method == "setWebhook"]
        assert hooks and all(h["url"] == "https://coach.example/telegram" for h in hooks)

        # Only Telegram (holding the secret) may deliver; bad bodies are refused without a trace.
        assert post(urls[0], bot_api.api.text_update(CHAT, "/start"), secret="wrong") == 403
        assert post(urls[1], {"not": "an update"}) == 400

        delivered = 0

        def deliver(text: str) -> None:
            nonlocal delivered
            assert post(urls[delivered % 2], bot_api.api.text_update(CHAT, text)) == 200
            delivered += 1

        deliver("/code")
        bot_api.wait_for(lambda t: "Live coding" in t, timeout=120)
        solution = asyncio.run(reference_solution(database, coach_home))
        deliver(solution)
        bot_api.wait_for(lambda t: t.startswith("<b>Score 100%</b>") and "passed" in t, timeout=120)
        for _ in range(4):  # follow-up probes, until the report
            if bot_api.count(lambda t: "Interview over" in t):
                break
            graded = bot_api.count(lambda t: t.startswith("<b>Score"))
            deliver("It runs in linear time with a hash map, and constant extra space beyond the map.")
            wait_until(lambda graded=graded: bot_api.count(lambda t: t.startswith("<b>Score")) > graded)
        bot_api.wait_for(lambda t: "Interview over" in t, timeout=120)

        # A burst of one chat's messages, alternating workers, is answered in the order sent.
        deliver("/interview")
        bot_api.wait_for(lambda t: "<b>Question 1/" in t and "💡" not in t, timeout=120)
        for n in range(6):
            deliver("/hint" if n % 2 == 0 else "/skip")
        wait_until(lambda: bot_api.count(lambda t: t.startswith("⏭ Skipped")) == 3)
        wait_until(lambda: bot_api.count(lambda t: "<b>Question 4/" in t and "💡" not in t) == 1)
        with bot_api.lock:
            tail = [s.text for s in bot_api.api.sent if s.method == "sendMessage"][-9:]
        kinds = ["skip" if t.startswith("⏭ Skipped") else "hint" if "💡" in t else "question" for t in tail]
        assert kinds == ["hint", "skip", "question"] * 3, tail
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30) for proc in procs]
        bot_api.server.shutdown()
        if sys.exc_info()[0] is not None:  # failing: show what each process said and what was sent
            for proc, (_out, err) in zip(procs, outputs, strict=True):
                print(proc.args[3], err[-3000:])
            print([(s.method, s.text[:80]) for s in bot_api.api.sent])
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc is procs[0] or proc.returncode == 0, err[-2000:]  # the runner server may die by the signal
        assert TOKEN not in out + err and SECRET not in out + err
    with bot_api.lock:
        crossed = [s for s in bot_api.api.sent if s.method == "sendMessage" and s.chat_id != CHAT]
    assert crossed == []


async def reference_solution(database: str, home: Path) -> str:
    """The waiting challenge's reference solution, looked up through the service like any reader."""
    async with SessionService.open(Settings(home=home, database_url=database), offline=True) as coach:
        user = f"tg:{CHAT}"
        session = coach.latest_active(user)
        assert session is not None
        step = await coach.resume(session, user)
        assert step.prompt is not None
        question = coach.catalog.question(step.prompt.question_id)
        return Catalog.load().challenge(question.challenge).reference_solution
