"""Benchmark: one offline turn (answer -> grade -> next question) through SessionService, beside a bare
LangGraph turn.

The coach: the durable SQLite checkpointer and SQLite store in a temporary COACH_HOME, like a user's
machine. The anchor: a minimal LangGraph graph (one node that calls `interrupt()`, the same
AsyncSqliteSaver with the same pragmas, the same `durability="exit"`), resumed once per turn. That
is the least a turn can cost on this stack; the ratio says what the coach adds on top (grading,
the next question, the store). Each side runs `--rounds` times, alternated so that machine load
hits both alike; the best round's p50 of each is compared. Wall time moves with the load other
processes put on the machine, so the CPU time this process spent per turn (all its threads,
`time.process_time`) is shown too, with its own ratio.

How the turn was profiled (the method, to repeat after a change):

    python -m cProfile -o /tmp/turn.prof benchmarks/bench_turn.py --turns 300 --rounds 1 --coach-only
    python -c "import pstats; pstats.Stats('/tmp/turn.prof').sort_stats('cumtime').print_stats(40)"

or, for a tree, `pip install pyinstrument` and `python -m pyinstrument benchmarks/bench_turn.py
--coach-only --rounds 1`. Read it under `SessionService.answer`: `graph.ainvoke` (the checkpoint
read and write, the nodes), `_persist` (the store transaction) and `_step` (the reply).

    python benchmarks/bench_turn.py [--turns 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt
from machine import describe  # benchmarks/machine.py, beside this script

from agent.config import Settings
from agent.service import SessionService

ANSWER = (
    "It trades memory for speed: earlier results are cached and reused, so each new step is cheaper, "
    "but the cache grows with the input and must be bounded or evicted."
)
WARM_UP = 10


def answer(n: int) -> str:
    """A different answer each turn, as in life: no cache keyed by the text gets a free hit."""
    return f"{ANSWER} In my project number {n} we kept it under {n % 7 + 2} MB."


def settle() -> None:
    """As a long-running coach process does once loaded (bots/startup.py): what was loaded and built
    so far is frozen out of the cyclic collector's sight, so a side is not charged for the objects
    the other side (or the imports) left behind."""
    gc.collect()
    gc.freeze()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


Timings = tuple[list[float], list[float]]
"""(wall ms, CPU ms) per turn."""


async def coach_turns(turns: int) -> Timings:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home)).for_local_terminal()
        timings: list[float] = []
        cpu: list[float] = []
        async with SessionService.open(settings, offline=True) as coach:
            step = await coach.start("bench", questions=5)
            settle()
            while len(timings) < turns + WARM_UP:
                if step.finished:
                    step = await coach.start("bench", questions=5)
                t0, c0 = time.perf_counter(), time.process_time()
                step = await coach.answer(step.session_id, "bench", answer(len(timings)))
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
        return timings[WARM_UP:], cpu[WARM_UP:]


class BareState(TypedDict, total=False):
    answers: int
    last: str


def _bare_graph() -> StateGraph[Any]:
    def candidate(state: BareState) -> BareState:
        answer = interrupt("your answer")
        return {"answers": state.get("answers", 0) + 1, "last": str(answer)}

    graph: StateGraph[Any] = StateGraph(BareState)
    graph.add_node("candidate", candidate)
    graph.add_edge(START, "candidate")
    graph.add_edge("candidate", "candidate")  # wait for the next answer, like the coach's loop
    return graph


async def bare_turns(turns: int) -> Timings:
    """The anchor: resume a one-node interrupt() graph with a durable SQLite checkpointer."""
    with tempfile.TemporaryDirectory() as home:
        async with AsyncSqliteSaver.from_conn_string(str(Path(home) / "checkpoints.sqlite")) as saver:
            await saver.conn.execute("PRAGMA journal_mode=WAL")  # as agent/checkpoint.py does
            await saver.conn.execute("PRAGMA synchronous=NORMAL")
            app = _bare_graph().compile(checkpointer=saver)
            config: dict[str, Any] = {"configurable": {"thread_id": "bench"}, "recursion_limit": 10_000}
            await app.ainvoke({"answers": 0}, config, durability="exit")
            settle()
            timings: list[float] = []
            cpu: list[float] = []
            while len(timings) < turns + WARM_UP:
                t0, c0 = time.perf_counter(), time.process_time()
                await app.ainvoke(Command(resume=answer(len(timings))), config, durability="exit")
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
        return timings[WARM_UP:], cpu[WARM_UP:]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of each side; the best p50 counts")
    parser.add_argument("--coach-only", action="store_true", help="skip the anchor (for profiling)")
    args = parser.parse_args()
    print(describe())
    coach: list[Timings] = []
    bare: list[Timings] = []
    for _ in range(args.rounds):
        if not args.coach_only:
            bare.append(asyncio.run(bare_turns(args.turns)))
        coach.append(asyncio.run(coach_turns(args.turns)))
    print(f"offline turn through SessionService (SQLite store + SQLite checkpointer), n={args.turns}, "
          f"best p50 of {args.rounds} alternated rounds")
    best = {name: report(name, runs) for name, runs in (("coach", coach), ("bare graph", bare)) if runs}
    if "bare graph" in best:
        (cw, cc), (bw, bc) = best["coach"], best["bare graph"]
        print(f"  ratio coach/bare p50: wall {cw / bw:.2f}x, CPU {cc / bc:.2f}x (goal <= 1.5x)")


def report(name: str, runs: list[Timings]) -> tuple[float, float]:
    """Print one side's best round; return its (wall p50, CPU p50)."""
    wall = min((r[0] for r in runs), key=statistics.median)
    cpu = min((r[1] for r in runs), key=statistics.median)
    print(f"  {name:11s} p50 {statistics.median(wall):7.2f} ms   p95 {pct(wall, 95):7.2f} ms   CPU p50 "
          f"{statistics.median(cpu):6.2f} ms   rounds' wall p50 {', '.join(f'{statistics.median(r[0]):.2f}' for r in runs)}")
    return statistics.median(wall), statistics.median(cpu)


if __name__ == "__main__":
    main()
