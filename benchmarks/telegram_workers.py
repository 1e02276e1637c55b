"""The multi-process half of bench_telegram.py: N `coach telegram --webhook` workers on PostgreSQL.

The benchmark process plays Telegram: a Bot API server (tornado, one event loop) that the workers
send their replies to, and the simulated users, whose messages it POSTs as webhook updates to the
workers in turn (round robin, as a reverse proxy would). A message's latency runs from the POST
until the message that ends the bot's reply lands (the next question, a follow-up or the report).
Lost: a reply that never came (60 s). Crossed: a reply-ending message that arrived for a chat that
was not waiting for one, or a question number going backwards in a chat.

The merge window (COACH_TELEGRAM_MERGE_SECONDS, 2.5 s by default) holds every text answer that
long before it is graded, on purpose; the benchmark sets it to `merge_seconds` (0 by default) so
that latency measures the work. With `profile`, the first worker runs under cProfile and the
PostgreSQL requests it sends per message are counted with strace (over the measured window).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import tornado.httpserver
import tornado.web

from bots.telegram.fake_api import FakeBotAPI, _decode

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:bench-token"
SECRET = "bench-webhook-secret"
ANSWER = ("It trades memory for speed: results are cached and reused, so each step is cheaper, "
          "but the cache grows and needs a bound.")
NUMBER = re.compile(r"<b>Question (\d+)/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for one run, dropped afterwards."""
    import psycopg

    name = f"coach_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Chat:
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    expecting: bool = False
    question: int = 0
    over: bool = False
    crossed: int = 0


class Telegram:
    """The Bot API the workers call, and the chats' state as the replies arrive."""

    def __init__(self) -> None:
        self.api = FakeBotAPI()
        self.chats: dict[int, Chat] = {}
        self.requests = 0
        outer = self

        class Method(tornado.web.RequestHandler):
            def post(self, method: str) -> None:
                outer.requests += 1
                body = self.request.body.decode()
                if self.request.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(body or "{}")
                else:
                    params = _decode({k: v[0] for k, v in urllib.parse.parse_qs(body).items()})
                result = outer.api._answer(method, params, {})
                if method == "sendMessage":
                    outer.delivered(int(params["chat_id"]), str(params.get("text", "")))
                self.set_header("Content-Type", "application/json")
                self.write(json.dumps({"ok": True, "result": result}))

        self.web = tornado.web.Application([(r"/bot[^/]+/(\w+)", Method)])
        self.port = free_port()
        self.server = tornado.httpserver.HTTPServer(self.web)

    def start(self) -> str:
        self.server.listen(self.port, "127.0.0.1")
        return f"http://127.0.0.1:{self.port}"

    def delivered(self, chat_id: int, text: str) -> None:
        chat = self.chats.setdefault(chat_id, Chat())
        ends_turn = text.startswith(("<b>Question", "<b>Follow-up")) or "Interview over" in text
        if not ends_turn:
            return
        if not chat.expecting or chat.over:
            chat.crossed += 1
        if m := NUMBER.match(text):
            if int(m.group(1)) < chat.question:
                chat.crossed += 1
            chat.question = int(m.group(1))
        chat.over = chat.over or "Interview over" in text
        chat.expecting = False
        chat.waiting.set()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PG_MESSAGE = re.compile(r'^\d+\s+sendto\((\d+), "([QPBSDEC])\\0')


def round_trips(trace: Path) -> dict[str, int]:
    """PostgreSQL requests in an strace of a worker's sendto calls (one libpq send per request,
    whose answer the worker then waits for; a pipeline's batch is one), by connection kind: the
    checkpointer's (its queries name the checkpoint tables) or the store's (everything else)."""
    sends: dict[str, int] = {}
    checkpointer: set[str] = set()
    for line in trace.read_text(errors="replace").splitlines():
        if m := PG_MESSAGE.match(line):
            fd = m.group(1)
            sends[fd] = sends.get(fd, 0) + 1
            if "checkpoint" in line:
                checkpointer.add(fd)
    return {"store": sum(n for fd, n in sends.items() if fd not in checkpointer),
            "checkpointer": sum(n for fd, n in sends.items() if fd in checkpointer)}


async def _run(workers: int, users: int, questions: int, think: tuple[float, float], admin_url: str,
               merge_seconds: float = 0.0, profile: Path | None = None) -> dict:
    telegram = Telegram()
    api_url = telegram.start()
    with postgres_database(admin_url) as database, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": home, "DATABASE_URL": database,
               "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "COACH_LIMITS__QUESTIONS_PER_SESSION": str(questions),
               "COACH_LIMITS__MESSAGES_PER_MINUTE": "0", "PYTHONWARNINGS": "ignore",
               "COACH_TELEGRAM_MERGE_SECONDS": str(merge_seconds)}
        # Migrate once, so the workers do not race to create the schema.
        subprocess.run([sys.executable, "-m", "bots.cli", "sessions", "--user", "bench"], env=env, check=True,
                       capture_output=True)
        ports = [free_port() for _ in range(workers)]
        # Worker logs go to files: a pipe nobody reads could fill and block a worker.
        logs = [open(Path(home) / f"worker-{port}.log", "w+") for port in ports]  # noqa: SIM115
        command = ["-m", "bots.cli", "telegram", "--offline", "--no-rate-limit", "--webhook", "https://bench.invalid",
                   "--base-url", api_url, "--port"]
        procs = [subprocess.Popen([sys.executable, *command, str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=log, text=True)
                 for port, log in zip(ports, logs, strict=True)]
        tracer = None
        try:
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=400)) as client:
                for port in ports:
                    await _healthy(client, f"http://127.0.0.1:{port}/healthz")
                if profile:  # every thread of the first worker, from now until the users are done
                    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=sendto", "-s", "96", "-o",
                                               str(profile), "-p", str(procs[0].pid)], stderr=subprocess.DEVNULL)
                    await asyncio.sleep(1.0)
                cpu0 = [cpu_seconds(p.pid) for p in procs]
                urls = [f"http://127.0.0.1:{port}/telegram" for port in ports]
                latencies: list[float] = []
                lost = 0
                turn = 0
                rng = random.Random(5)

                async def send(chat_id: int, text: str) -> bool:
                    nonlocal turn, lost
                    if think[1]:
                        await asyncio.sleep(rng.uniform(*think))
                    chat = telegram.chats.setdefault(chat_id, Chat())
                    chat.waiting.clear()
                    chat.expecting = True
                    update = telegram.api.text_update(chat_id, text)
                    url = urls[turn % len(urls)]
                    turn += 1
                    t0 = time.perf_counter()
                    response = await client.post(url, json=update,
                                                 headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                    response.raise_for_status()
                    try:
                        await asyncio.wait_for(chat.waiting.wait(), 60)
                    except TimeoutError:
                        lost += 1
                        return False
                    latencies.append((time.perf_counter() - t0) * 1000)
                    return True

                async def candidate(chat_id: int) -> None:
                    if not await send(chat_id, "/interview"):
                        return
                    for _ in range(questions * 3):
                        if telegram.chats[chat_id].over or not await send(chat_id, f"{ANSWER} [chat {chat_id}]"):
                            return

                t0 = time.perf_counter()
                await asyncio.gather(*(candidate(10_000 + i) for i in range(users)))
                wall = time.perf_counter() - t0
                cpu = sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0, strict=True))
                messages = [len(latencies)]  # the first worker's share, for the profile: round robin
        finally:
            if tracer is not None:
                tracer.send_signal(signal.SIGINT)  # detaches; the worker runs on
                await asyncio.to_thread(tracer.wait, 30)
            for proc in procs:
                proc.terminate()
            errors = []
            for proc, log in zip(procs, logs, strict=True):
                # Waited for off the loop: a stopping worker may still be sending to our Bot API.
                await asyncio.to_thread(proc.wait, 60)
                log.seek(0)
                errors.append(log.read())
                log.close()
            telegram.server.stop()
        failures = [e for e in errors if "Traceback" in e]
        for failure in failures[:1]:
            print(failure[max(0, failure.index("Traceback") - 300):][:4000], file=sys.stderr)
        trips = round_trips(profile) if profile else None
        return {"latencies": latencies, "wall": wall, "lost": lost, "cpu": cpu, "round_trips": trips,
                "profiled_messages": messages[0] / workers,
                "crossed": sum(c.crossed for c in telegram.chats.values()),
                "finished": sum(c.over for c in telegram.chats.values()), "worker_tracebacks": len(failures)}


async def _healthy(client: httpx.AsyncClient, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(url)).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker at {url} did not start")
        await asyncio.sleep(0.2)


def run_workers(workers: int, users: int, questions: int, think: tuple[float, float], admin_url: str,
                merge_seconds: float = 0.0, profile: Path | None = None) -> dict:
    return asyncio.run(_run(workers, users, questions, think, admin_url, merge_seconds, profile))
