"""Load benchmark: simulated candidates interviewing at once through the real Telegram handler stack.

Each user runs a whole offline interview in their own private chat (the in-memory Bot API stands
in for Telegram; python-telegram-bot, the service, SQLite and the checkpointer are real). Two
arrival patterns:
  paced  each user thinks 2-6 s before every message (still far quicker than a real answer);
  burst  every user sends the next message the moment the last reply lands (a stress test).
Prints per-message reply latency p50/p95, lost or crossed replies, and memory growth, beside the
anchor: an echo bot on the same python-telegram-bot stack and in-memory Bot API (one handler that
replies at once), driven by the same users at the same pace. The ratio says what the coach adds to
a message on top of the framework. Then start-up: a fresh process importing the bot, opening the
service, `build_application` and handling the first update (`/interview`), best of 3, started as
`coach telegram` starts (collection deferred until the application is up, `bots/startup.py`) and
with the bytecode cache on as in an installed coach (`--no-bytecode-cache`: the inherited
environment); `--root DIR --before DIR` alternates two checkouts' start-ups.

    python benchmarks/bench_telegram.py [--users 200] [--questions 5] [--mode paced|burst|both]
    python benchmarks/bench_telegram.py --workers 1,2 [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--merge-seconds 0] [--profile DIR]

With --workers, the same users talk over real HTTP to that many `coach telegram --webhook` worker
processes sharing one PostgreSQL database (benchmarks/telegram_workers.py): messages/s, reply
latency, lost and crossed replies, worker CPU per message, and the burst throughput ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe  # benchmarks/machine.py, beside this script
from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters

from agent.config import Settings
from agent.service import SessionService
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI

ANSWER = ("It trades memory for speed: results are cached and reused, so each step is cheaper, "
          "but the cache grows and needs a bound.")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def candidate(app, api: FakeBotAPI, chat: int, questions: int, think: tuple[float, float],
                    latencies: list[float], rng: random.Random) -> int:
    """One user's interview; returns how many grades they received."""
    async def send(text: str) -> None:
        if think[1]:
            await asyncio.sleep(rng.uniform(*think))
        t0 = time.perf_counter()
        await app.process_update(Update.de_json(api.text_update(chat, text), app.bot))
        latencies.append((time.perf_counter() - t0) * 1000)

    await send("/interview")
    for _ in range(questions * 3):  # main answers plus follow-ups, until the report
        if any("Interview over" in s.text for s in api.replies(chat)):
            break
        await send(f"{ANSWER} [chat {chat}]")
    return sum(s.text.startswith("<b>Score") for s in api.replies(chat))


async def run(users: int, questions: int, think: tuple[float, float]) -> dict:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        settings = settings.model_copy(update={"limits": settings.limits.model_copy(
            update={"questions_per_session": questions})})
        async with SessionService.open(settings, offline=True) as coach:
            api = FakeBotAPI()
            app = build_application(coach, token="1:bench", request=api, rate_limit=False)
            async with app:
                rng = random.Random(5)
                latencies: list[float] = []
                rss0 = rss_mib()
                t0 = time.perf_counter()
                grades = await asyncio.gather(*(candidate(app, api, 10_000 + i, questions, think, latencies, rng)
                                                for i in range(users)))
                wall = time.perf_counter() - t0
                rss1 = rss_mib()
        crossed = sum(1 for s in api.sent if "[chat " in s.text and f"[chat {s.chat_id}]" not in s.text)
        finished = sum(any("Interview over" in s.text for s in api.replies(10_000 + i)) for i in range(users))
        return {"latencies": latencies, "wall": wall, "grades": sum(grades), "finished": finished,
                "crossed": crossed, "rss": (rss0, rss1)}


async def echo_run(users: int, messages: int, think: tuple[float, float]) -> dict:
    """The anchor: the same chats and pacing against a bot whose one handler replies at once."""
    api = FakeBotAPI()

    async def echo(update: Update, _context) -> None:
        await update.effective_chat.send_message(update.effective_message.text)

    app = ApplicationBuilder().token("1:echo").request(api).get_updates_request(api).concurrent_updates(256).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    latencies: list[float] = []
    rng = random.Random(5)

    async def chat(chat_id: int) -> None:
        for n in range(messages):
            if think[1]:
                await asyncio.sleep(rng.uniform(*think))
            t0 = time.perf_counter()
            await app.process_update(Update.de_json(api.text_update(chat_id, f"{ANSWER} {n}"), app.bot))
            latencies.append((time.perf_counter() - t0) * 1000)

    async with app:
        t0 = time.perf_counter()
        await asyncio.gather(*(chat(10_000 + i) for i in range(users)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "wall": wall}


STARTUP = """
import asyncio, sys, tempfile, time
t0 = time.perf_counter()
try:  # as `coach telegram` starts (bots/cli.py, bots/commands/telegram.py); older checkouts lack it
    from bots.startup import defer_collection, loaded
except ImportError:
    defer_collection = loaded = lambda: None
defer_collection()
from pathlib import Path
from telegram import Update
from agent.config import Settings
from agent.service import SessionService
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI
t_import = time.perf_counter()

async def main():
    with tempfile.TemporaryDirectory() as home:
        async with SessionService.open(Settings(home=Path(home)), offline=True) as coach:
            t_open = time.perf_counter()
            api = FakeBotAPI()
            app = build_application(coach, token="1:bench", request=api, rate_limit=False)
            async with app:
                loaded()
                t_built = time.perf_counter()
                await app.process_update(Update.de_json(api.text_update(10_000, "/interview"), app.bot))
                assert api.replies(10_000), "no reply to the first update"
                t_first = time.perf_counter()
    print(t_import - t0, t_open - t_import, t_built - t_open, t_first - t_built)

asyncio.run(main())
"""


def startup_once(root: Path | None = None, pycache: str | None = None) -> tuple[float, list[float]]:
    """One fresh process: (whole process wall s, [import, open, build, first update] s)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if root is not None:
        env["PYTHONPATH"] = str(root)
    if pycache:  # bytecode cached as in an installed coach (see bench_startup.py)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True, env=env,
                         cwd=root)
    return time.perf_counter() - t0, [float(x) for x in out.stdout.split()]


def startup(runs: int = 3, roots: list[Path | None] | None = None,
            pycache: str | None = None) -> list[tuple[float, list[float]]]:
    """Best of `runs` fresh processes per checkout in `roots`, alternated round by round."""
    roots = roots or [None]
    if pycache:
        for root in roots:
            startup_once(root, pycache)  # fills the bytecode cache
    best: list[tuple[float, list[float]] | None] = [None] * len(roots)
    for _ in range(runs):
        for i, root in enumerate(roots):
            got = startup_once(root, pycache)
            if best[i] is None or got[0] < best[i][0]:  # type: ignore[index]
                best[i] = got
    return [b for b in best if b is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--mode", choices=["paced", "burst", "both", "none"], default="both",
                        help="none: start-up only")
    parser.add_argument("--root", type=Path, help="the checkout whose start-up to measure (default: PYTHONPATH)")
    parser.add_argument("--before", type=Path, help="another checkout whose start-up alternates with it")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="start-up with the inherited PYTHONDONTWRITEBYTECODE")
    parser.add_argument("--workers", help="comma-separated worker counts, e.g. 1,2: webhook workers on PostgreSQL")
    parser.add_argument("--pg", default=os.environ.get("COACH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL URL allowed to create databases")
    parser.add_argument("--merge-seconds", type=float, default=0.0,
                        help="with --workers: the workers' merge window (the bot's default 2.5 s holds each "
                             "answer that long on purpose; 0 measures the work)")
    parser.add_argument("--profile", type=Path,
                        help="with --workers: strace the first worker's sends into this directory and count its "
                             "PostgreSQL requests (round trips) per message (slows that worker: figures only)")
    args = parser.parse_args()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per reminder job otherwise
    print(describe())
    if args.workers:
        print(f"workers' merge window: {args.merge_seconds:g} s")
        workers_main(args)
        return
    roots: list[Path | None] = [args.root, *([args.before] if args.before else [])]
    pycache = None if args.no_bytecode_cache else tempfile.mkdtemp(prefix="coach-bench-pyc-")
    for root, (wall, (imports, opened, built, first)) in zip(roots, startup(3, roots, pycache), strict=True):
        print(f"start-up{f' [{root}]' if args.before else ''}, fresh process (best of 3, load average "
              f"{os.getloadavg()[0]:.1f}, bytecode cache {'off' if pycache is None else 'on'}): {wall:.2f} s = "
              f"interpreter + imports {imports:.2f} s, open the service {opened:.2f} s, "
              f"build_application + initialize {built:.2f} s, first update handled {first:.2f} s (goal <= 2 s)")
    modes = {"paced": (2.0, 6.0), "burst": (0.0, 0.0)}
    for mode in {"both": ["paced", "burst"], "none": []}.get(args.mode, [args.mode]):
        r = asyncio.run(run(args.users, args.questions, modes[mode]))
        lat = r["latencies"]
        anchor = asyncio.run(echo_run(args.users, max(1, round(len(lat) / args.users)), modes[mode]))
        alat = anchor["latencies"]
        print(f"{mode}: {args.users} users x {args.questions}-question interviews, {len(lat)} messages "
              f"in {r['wall']:.1f} s ({len(lat) / r['wall']:.0f} msg/s)")
        print(f"  reply latency p50 {statistics.median(lat):.1f} ms   p95 {pct(lat, 95):.1f} ms   "
              f"max {max(lat):.1f} ms")
        print(f"  finished interviews {r['finished']}/{args.users}, grades {r['grades']}, "
              f"crossed replies {r['crossed']}, lost interviews {args.users - r['finished']}")
        print(f"  memory RSS {r['rss'][0]:.0f} -> {r['rss'][1]:.0f} MiB")
        print(f"  anchor, echo bot on the same stack: {len(alat)} messages in {anchor['wall']:.1f} s "
              f"({len(alat) / anchor['wall']:.0f} msg/s), p50 {statistics.median(alat):.1f} ms   "
              f"p95 {pct(alat, 95):.1f} ms")
        print(f"  ratio coach/echo: p50 {statistics.median(lat) / statistics.median(alat):.1f}x   "
              f"p95 {pct(lat, 95) / pct(alat, 95):.1f}x")


def workers_main(args: argparse.Namespace) -> None:
    from telegram_workers import run_workers  # benchmarks/telegram_workers.py, beside this script

    modes = {"paced": (2.0, 6.0), "burst": (0.0, 0.0)}
    counts = [int(n) for n in args.workers.split(",")]
    for mode in {"both": ["paced", "burst"], "none": []}.get(args.mode, [args.mode]):
        rates = {}
        for n in counts:
            profile = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                profile = args.profile / f"worker-{mode}-{n}.strace"
            r = run_workers(n, args.users, args.questions, modes[mode], args.pg, args.merge_seconds, profile)
            lat = r["latencies"]
            rates[n] = len(lat) / r["wall"]
            print(f"{mode}, {n} worker(s) on PostgreSQL: {args.users} users x {args.questions}-question interviews, "
                  f"{len(lat)} replies in {r['wall']:.1f} s ({rates[n]:.0f} msg/s)")
            print(f"  reply latency p50 {statistics.median(lat):.1f} ms   p95 {pct(lat, 95):.1f} ms   "
                  f"max {max(lat):.1f} ms")
            print(f"  finished interviews {r['finished']}/{args.users}, lost {r['lost']}, crossed {r['crossed']}, "
                  f"worker tracebacks {r['worker_tracebacks']}")
            print(f"  worker CPU {r['cpu']:.1f} s = {r['cpu'] / max(1, len(lat)) * 1000:.1f} ms per message; "
                  f"load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
            if r["round_trips"]:
                trips, share = r["round_trips"], max(1.0, r["profiled_messages"])
                print(f"  first worker (strace, {profile}): PostgreSQL round trips per message "
                      f"{(trips['store'] + trips['checkpointer']) / share:.1f} (store {trips['store'] / share:.1f}, "
                      f"checkpointer {trips['checkpointer'] / share:.1f})")
        if len(counts) > 1:
            print(f"  {mode} throughput {counts[-1]} vs {counts[0]} worker(s): {rates[counts[-1]] / rates[counts[0]]:.2f}x")


if __name__ == "__main__":
    main()
