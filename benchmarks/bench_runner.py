"""Benchmark: sandboxed code-runner jobs against a plain unsandboxed subprocess, measured together.

For a trivial program and a 10-case challenge harness, prints p50/p95 per job for
  plain      the same harness in a plain `python3 -I -S` subprocess (no isolation at all);
  sandboxed  the real runner: bubblewrap, own uid, limits, judging outside;
  warm       the same sandbox kept warm, each job in a fresh forked child (tools/runner/warm.py);
and jobs per second with 2 workers. The ratio to plain is the cost (or saving) of isolation; the
plain anchor runs the same harness (judge and candidate processes), so the ratio is the sandbox's
own cost: bwrap, the seccomp filter, the job's uid and cgroup. Each of `--rounds` rounds measures
plain, sandboxed and warm in turn; the best p50 of the rounds is printed (the machine is shared).

    python benchmarks/bench_runner.py [--jobs 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from machine import describe  # benchmarks/machine.py, beside this script

from agent.domain import CallCase, Challenge
from tools.runner import CodeRunner
from tools.runner.judge import challenge_job
from tools.runner.sandbox import HARNESS

TRIVIAL = Challenge(id="trivial", title="t", statement="s", entry_point="f", starter="", reference_solution="",
                    cases=(CallCase(args=(), expected=1),))
TEN = Challenge(id="ten", title="t", statement="s", entry_point="f", starter="", reference_solution="",
                cases=tuple(CallCase(args=(i,), expected=i * i) for i in range(10)))
CODE = "def f(x=1):\n    return x * x\n"


def plain(challenge: Challenge) -> float:
    """The harness in a plain subprocess: no bwrap, no uid change, no limits."""
    read_fd, write_fd = os.pipe()
    job = {**challenge_job(CODE, challenge), "limits": {"cpu_seconds": 2, "memory_mib": 512, "file_size_mib": 16,
                                                         "open_files": 64, "nproc": 4096}}
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/python3", "-I", "-S", str(HARNESS), str(write_fd)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(write_fd,), env={})
    os.close(write_fd)
    proc.communicate(json.dumps(job).encode())
    os.read(read_fd, 1 << 20)
    os.close(read_fd)
    return (time.perf_counter() - t0) * 1000


def sandboxed(runner: CodeRunner, challenge: Challenge) -> float:
    t0 = time.perf_counter()
    result = runner.run_challenge(CODE, challenge)
    assert result.status == "passed", result.message
    return (time.perf_counter() - t0) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def throughput(fn, jobs: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: fn(), range(jobs)))
    return jobs / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runner, warm = CodeRunner(warm_workers=0), CodeRunner(warm_workers=2)
    runner.sandbox.check()
    print(describe())
    for label, challenge in (("trivial program", TRIVIAL), ("10-case harness", TEN)):
        best: dict[str, list[float]] = {}
        for _ in range(args.rounds):  # alternated: plain, sandboxed, warm, then again
            for name, target in (("plain", None), ("sandboxed", runner), ("warm", warm)):
                times = [plain(challenge) if target is None else sandboxed(target, challenge) for _ in range(args.jobs)]
                if name not in best or statistics.median(times) < statistics.median(best[name]):
                    best[name] = times
        p, s, w = best["plain"], best["sandboxed"], best["warm"]
        print(f"{label}: plain p50 {statistics.median(p):.1f} ms p95 {pct(p, 95):.1f} ms | sandboxed p50 "
              f"{statistics.median(s):.1f} ms p95 {pct(s, 95):.1f} ms | warm sandbox p50 "
              f"{statistics.median(w):.1f} ms p95 {pct(w, 95):.1f} ms | ratio p50 to plain: sandboxed "
              f"{statistics.median(s) / statistics.median(p):.2f}x, warm {statistics.median(w) / statistics.median(p):.2f}x"
              f" (best of {args.rounds} alternated rounds)")
    print(f"2 workers, 10-case harness: plain {throughput(lambda: plain(TEN), args.jobs):.0f} jobs/s, sandboxed "
          f"{throughput(lambda: sandboxed(runner, TEN), args.jobs):.0f} jobs/s, warm sandboxes "
          f"{throughput(lambda: sandboxed(warm, TEN), args.jobs):.0f} jobs/s")
    warm.close()


if __name__ == "__main__":
    main()
