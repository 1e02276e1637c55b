"""Benchmark: the terminal's start-up, whole processes from the shell to exit, beside their anchors.

    coach --help                                            anchor: `python -c pass`
    printf 'an answer\\n' | coach interview --offline --questions 1
        new home   COACH_HOME is a fresh temporary directory (nothing cached, the database created)
        warm home  the same home a second time (the bank's parse cache and the database exist)
                                                            anchor: a bare LangGraph process: import
        LangGraph, compile a one-node interrupt() graph with the SQLite checkpointer, ask, resume, exit

Every case runs `--runs` times, the cases alternated so machine load hits all alike; the best run
counts (goals: --help <= 0.3 s, interview <= 1.5 s). Wall and CPU (user + system) time are shown.
The children run as an installed coach does, with Python's bytecode cache on (a temporary
PYTHONPYCACHEPREFIX, so no checkout is written to, filled by one warm-up run per case): this
machine's shells set PYTHONDONTWRITEBYTECODE, which would recompile the coach's ~90 modules in
every process (~0.07 s); `--no-bytecode-cache` keeps the inherited environment. `--before DIR`
measures another checkout's interview cases in the same alternation. To see where a start goes: `python -X importtime -m bots.cli interview ...` (imports) and
`python -m pyinstrument -m bots.cli interview ...` (the rest).

    python benchmarks/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from machine import describe  # benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
BARE_GRAPH = """
import sys, tempfile
from typing import TypedDict
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt

class S(TypedDict, total=False):
    answer: str

def candidate(state: S) -> S:
    return {"answer": str(interrupt("question"))}

graph = StateGraph(S)
graph.add_node("candidate", candidate)
graph.add_edge(START, "candidate")
with tempfile.TemporaryDirectory() as home, SqliteSaver.from_conn_string(home + "/c.sqlite") as saver:
    app = graph.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    print(app.invoke({}, config, durability="exit")["__interrupt__"][0].value)
    print(app.invoke(Command(resume=sys.stdin.readline().strip()), config, durability="exit"))
"""


BASE_ENV = dict(os.environ)


def timed(argv: list[str], stdin: str = "", env: dict[str, str] | None = None, root: Path = ROOT) -> tuple[float, float]:
    """(wall s, CPU s of the child) for one process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, capture_output=True, check=True, cwd=root,
                   env={**BASE_ENV, **(env or {}), "PYTHONPATH": str(root)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (e.g. an older one)")
    parser.add_argument("--before", type=Path, help="another checkout whose interview cases alternate with these")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="keep the inherited PYTHONDONTWRITEBYTECODE")
    args = parser.parse_args()
    if not args.no_bytecode_cache:
        BASE_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        BASE_ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="coach-bench-pyc-")
    print(describe())
    print(f"checkout: {args.root}" + (f", before: {args.before}" if args.before else "")
          + ("; bytecode cache off (inherited)" if args.no_bytecode_cache else "; bytecode cache on"))
    coach = [sys.executable, "-m", "bots.cli"]
    warm_home = Path(tempfile.mkdtemp(prefix="coach-bench-"))
    interview = [*coach, "interview", "--offline", "--questions", "1"]

    def fresh() -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as home:
            return timed(interview, "an answer\n", {"COACH_HOME": home}, args.root)

    cases: dict[str, Callable[[], tuple[float, float]]] = {
        "coach --help": lambda: timed([*coach, "--help"], root=args.root),
        "anchor: python -c pass": lambda: timed([sys.executable, "-c", "pass"]),
        "interview, new home": fresh,
        "interview, warm home": lambda: timed(interview, "an answer\n", {"COACH_HOME": str(warm_home)}, args.root),
        "anchor: bare LangGraph process": lambda: timed([sys.executable, "-c", BARE_GRAPH], "an answer\n"),
    }
    if args.before:
        before_home = Path(tempfile.mkdtemp(prefix="coach-bench-"))

        def fresh_before() -> tuple[float, float]:
            with tempfile.TemporaryDirectory() as home:
                return timed(interview, "an answer\n", {"COACH_HOME": home}, args.before)

        cases["before: coach --help"] = lambda: timed([*coach, "--help"], root=args.before)
        cases["before: interview, new home"] = fresh_before
        cases["before: interview, warm home"] = lambda: timed(interview, "an answer\n", {"COACH_HOME": str(before_home)},
                                                              args.before)
        timed(interview, "an answer\n", {"COACH_HOME": str(before_home)}, args.before)
        timed([*coach, "--help"], root=args.before)
    timed(interview, "an answer\n", {"COACH_HOME": str(warm_home)}, args.root)  # the warm home gets its cache
    timed([sys.executable, "-c", BARE_GRAPH], "an answer\n")  # the anchor's bytecode, like the others'
    timed([*coach, "--help"], root=args.root)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    loads = []
    for _ in range(args.runs):
        for name, run in cases.items():
            results[name].append(run())
        loads.append(os.getloadavg()[0])
    best = {name: min(r) for name, r in results.items()}
    print(f"whole processes, best of {args.runs} alternated runs (wall s / CPU s); "
          f"load average during the rounds {min(loads):.1f}-{max(loads):.1f}")
    for name, (wall, cpu) in best.items():
        print(f"  {name:36s} {wall:6.2f} s   cpu {cpu:5.2f} s   all runs: "
              + ", ".join(f"{w:.2f}" for w, _ in results[name]))
    print(f"  ratio --help / python -c pass: {best['coach --help'][0] / best['anchor: python -c pass'][0]:.1f}x; "
          f"interview (new home) / bare LangGraph process: "
          f"{best['interview, new home'][0] / best['anchor: bare LangGraph process'][0]:.2f}x, "
          f"warm home {best['interview, warm home'][0] / best['anchor: bare LangGraph process'][0]:.2f}x")
    print(f"  goals: --help <= 0.3 s {'met' if best['coach --help'][0] <= 0.3 else 'MISSED'}; "
          f"interview <= 1.5 s {'met' if best['interview, new home'][0] <= 1.5 else 'MISSED'} (new home), "
          f"{'met' if best['interview, warm home'][0] <= 1.5 else 'MISSED'} (warm home)")


if __name__ == "__main__":
    main()
