"""Benchmark: one offline turn (answer -> grade -> next question) through SessionService.

Uses the durable SQLite checkpointer and SQLite store in a temporary COACH_HOME, like a user's
machine. Prints p50/p95 per turn and the machine it ran on.

    python benchmarks/bench_turn.py [--turns 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from agent.config import Settings
from agent.service import SessionService

ANSWER = (
    "It trades memory for speed: earlier results are cached and reused, so each new step is cheaper, "
    "but the cache grows with the input and must be bounded or evicted."
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench(turns: int) -> list[float]:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home)).for_local_terminal()
        timings: list[float] = []
        async with SessionService.open(settings, offline=True) as coach:
            step = await coach.start("bench", questions=5)
            while len(timings) < turns:
                if step.finished:
                    step = await coach.start("bench", questions=5)
                t0 = time.perf_counter()
                step = await coach.answer(step.session_id, "bench", ANSWER)
                timings.append((time.perf_counter() - t0) * 1000)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    timings = asyncio.run(bench(args.turns))[10:]  # drop warm-up
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}")
    print(f"offline turn through SessionService (SQLite store + SQLite checkpointer), n={len(timings)}")
    print(f"  p50 {statistics.median(timings):.2f} ms   p95 {pct(timings, 95):.2f} ms   max {max(timings):.2f} ms")


if __name__ == "__main__":
    main()
