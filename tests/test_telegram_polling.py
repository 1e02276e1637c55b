"""`coach telegram` as a process, polling a local Bot API server over real HTTP; killed and restarted."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bots.telegram.fake_api import FakeBotAPI, _decode
from tests.conftest import MINI_BANK

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token-never-printed"


class BotAPIServer:
    """The in-memory Bot API behind a real HTTP server, with a queue of updates for getUpdates."""

    def __init__(self) -> None:
        self.api = FakeBotAPI()
        self.updates: list[dict] = []
        self.lock = threading.Lock()
        self.redeliver: list[dict] = []
        """Updates the next getUpdates sends again whatever the offset (a duplicated delivery)."""
        self.on_ack: tuple[int, object] | None = None
        """(update_id, callback): called, before answering, by the getUpdates that acknowledges it."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params = _decode({k: v[0] for k, v in urllib.parse.parse_qs(body).items()})
                method = self.path.rsplit("/", 1)[-1]
                result = outer.get_updates(params) if method == "getUpdates" else outer.answer(method, params)
                payload = json.dumps({"ok": True, "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot was killed
                    self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method: str, params: dict):
        with self.lock:
            return self.api._answer(method, params, {})

    def get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        if self.on_ack is not None and offset > self.on_ack[0]:
            _update_id, callback = self.on_ack
            self.on_ack = None
            callback()
            return []
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            with self.lock:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                if self.redeliver:
                    ready, self.redeliver = self.redeliver + ready, []
            if ready or time.monotonic() >= deadline:
                return ready
            time.sleep(0.02)

    def say(self, chat: int, text: str) -> dict:
        with self.lock:
            self.updates.append(update := self.api.text_update(chat, text))
        return update

    def count(self, predicate) -> int:
        with self.lock:
            return sum(1 for s in self.api.sent if s.method == "sendMessage" and predicate(s.text))

    def wait_for(self, predicate, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for sent in self.api.sent:
                    if sent.method == "sendMessage" and predicate(sent.text):
                        return sent.text
            time.sleep(0.05)
        raise AssertionError(f"no matching reply; sent: {[s.text[:60] for s in self.api.sent]}")


@pytest.fixture
def bot_api():
    server = BotAPIServer()
    yield server
    server.server.shutdown()


def run_bot(bot_api: BotAPIServer, home: Path, **extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(home), "COACH_BANK_DIR": str(MINI_BANK),
           "TELEGRAM_BOT_TOKEN": TOKEN, **extra}
    return subprocess.Popen([sys.executable, "-m", "bots.cli", "telegram", "--offline", "--base-url", bot_api.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_polling_bot_survives_a_kill_mid_interview(bot_api: BotAPIServer, coach_home: Path) -> None:
    bot = run_bot(bot_api, coach_home)
    try:
        bot_api.say(7, "/interview sql")
        bot_api.wait_for(lambda t: "What does a database index" in t)
        assert [c["command"] for c in bot_api.api.commands][:2] == ["start", "interview"]
    finally:
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)

    bot = run_bot(bot_api, coach_home)  # a new process continues the same interview
    try:
        bot_api.say(7, "An index avoids a full table scan, so lookups are faster.")
        bot_api.wait_for(lambda t: t.startswith("<b>Score 33%</b>"))
        bot_api.wait_for(lambda t: "What happens to inserts" in t)
    except AssertionError:
        bot.kill()
        print(bot.communicate()[1])
        raise
    finally:
        bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=20)
    assert bot.returncode == 0, err
    assert TOKEN not in out + err  # the token never reaches the logs


def graded_turns(home: Path, chat: int) -> int:
    """Graded turns the coach stored for the chat's user, read back through the service."""
    import asyncio

    from agent.config import Settings
    from agent.service import SessionService

    async def count() -> int:
        async with SessionService.open(Settings(home=home), offline=True) as coach:
            user = f"tg:{chat}"
            return sum(1 for s in coach.sessions(user) for step in coach.transcript(s.session_id, user).steps
                       if step.turn.grade is not None)

    return asyncio.run(count())


def test_a_kill_right_after_an_answer_is_acknowledged_loses_nothing(bot_api: BotAPIServer, coach_home: Path) -> None:
    """The bot is killed -9 the moment its next getUpdates acknowledges the answer (before it
    could reply); the restarted bot replies exactly once, and a duplicated delivery changes nothing."""
    bot = run_bot(bot_api, coach_home)
    try:
        bot_api.say(7, "/interview sql")
        bot_api.wait_for(lambda t: "What does a database index" in t)
        answer = bot_api.say(7, "An index avoids a full table scan, so lookups are faster.")
        killed = threading.Event()

        def kill() -> None:
            os.kill(bot.pid, signal.SIGKILL)
            killed.set()

        bot_api.on_ack = (answer["update_id"], kill)
        assert killed.wait(30), "the bot never acknowledged the answer"
    finally:
        bot.kill()
        bot.wait(10)
    with bot_api.lock:
        bot_api.updates.clear()  # Telegram will not send an acknowledged update again

    bot = run_bot(bot_api, coach_home)
    try:
        bot_api.wait_for(lambda t: t.startswith("<b>Score 33%</b>"))
        with bot_api.lock:
            bot_api.redeliver.append(answer)  # the same update delivered once more
        deadline = time.monotonic() + 30
        while bot_api.redeliver and time.monotonic() < deadline:  # fetched by the bot
            time.sleep(0.05)
        assert not bot_api.redeliver
        bot_api.say(7, "/hint")
        bot_api.wait_for(lambda t: "💡" in t)  # handled after the duplicate, so the duplicate was seen
    finally:
        bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=20)
    assert bot.returncode == 0, err
    assert bot_api.count(lambda t: t.startswith("<b>Score")) == 1
    assert bot_api.count(lambda t: "What happens to inserts" in t and "💡" not in t) == 1
    assert graded_turns(coach_home, 7) == 1
    assert TOKEN not in out + err


def test_a_kill_inside_the_merge_window_loses_no_part_of_the_answer(bot_api: BotAPIServer, coach_home: Path) -> None:
    """Three text parts acknowledged to Telegram, then kill -9 while the bot waits for more (the
    merge window): the restarted bot grades the three parts once, as one answer, with one reply."""
    parts = ["An index avoids a full table scan,", "so lookups are faster.", "Inserts get slower, though."]
    bot = run_bot(bot_api, coach_home, COACH_TELEGRAM_MERGE_SECONDS="30")
    try:
        bot_api.say(7, "/interview sql")
        bot_api.wait_for(lambda t: "What does a database index" in t)
        with bot_api.lock:
            sent = [bot_api.api.text_update(7, p) for p in parts]
            bot_api.updates.extend(sent)
        killed = threading.Event()

        def kill() -> None:
            os.kill(bot.pid, signal.SIGKILL)
            killed.set()

        bot_api.on_ack = (sent[-1]["update_id"], kill)  # all three stored and acknowledged
        assert killed.wait(30), "the bot never acknowledged the answer's parts"
    finally:
        bot.kill()
        bot.wait(10)
    assert bot_api.count(lambda t: "Score" in t or "Merged" in t) == 0
    with bot_api.lock:
        bot_api.updates.clear()  # Telegram will not send acknowledged updates again

    bot = run_bot(bot_api, coach_home, COACH_TELEGRAM_MERGE_SECONDS="0.5")
    try:
        bot_api.wait_for(lambda t: t.startswith("<b>Interview over"))  # the answer covered every point
    finally:
        bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=20)
    assert bot.returncode == 0, err
    assert bot_api.count(lambda t: t == "<i>Merged 3 messages into one answer.</i>") == 1
    assert bot_api.count(lambda t: t.startswith("<b>Score")) == 1
    assert graded_turns(coach_home, 7) == 1
    assert TOKEN not in out + err
