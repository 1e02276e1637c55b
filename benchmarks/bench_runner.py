"""Benchmark: sandboxed code-runner jobs against a plain unsandboxed subprocess, measured together.

For a trivial program and a 10-case challenge harness, prints p50/p95 per job for
  plain      the same harness in a plain `python3 -I -S` subprocess (no isolation at all);
  sandboxed  the real runner: bubblewrap, own uid, limits, judging outside;
  warm       the same sandbox kept warm, each job in a fresh forked child (tools/runner/warm.py);
and jobs per second with 2 workers. The ratio to plain is the cost (or saving) of isolation; the
plain anchor runs the same harness (judge and candidate processes), so the ratio is the sandbox's
own cost: bwrap, the seccomp filter, the job's uid and cgroup. The machine is shared and its load
changes from second to second, so the three are alternated job by job (plain, sandboxed, warm,
then again, `--jobs` times) and besides each p50 the median of the per-job ratios is printed: a
sandboxed job against the plain job just before it, under the same load.

    python benchmarks/bench_runner.py [--jobs 150]
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
    parser.add_argument("--jobs", type=int, default=150)
    args = parser.parse_args()
    runner, warm = CodeRunner(warm_workers=0), CodeRunner(warm_workers=2)
    runner.sandbox.check()
    print(describe())
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start")
    for label, challenge in (("trivial program", TRIVIAL), ("10-case harness", TEN)):
        p: list[float] = []
        s: list[float] = []
        w: list[float] = []
        for _ in range(args.jobs):  # alternated job by job: the three see the same load
            p.append(plain(challenge))
            s.append(sandboxed(runner, challenge))
            w.append(sandboxed(warm, challenge))
        sandbox_ratio = statistics.median(b / a for a, b in zip(p, s, strict=True))
        warm_ratio = statistics.median(b / a for a, b in zip(p, w, strict=True))
        print(f"{label}: plain p50 {statistics.median(p):.1f} ms p95 {pct(p, 95):.1f} ms | sandboxed p50 "
              f"{statistics.median(s):.1f} ms p95 {pct(s, 95):.1f} ms | warm sandbox p50 "
              f"{statistics.median(w):.1f} ms p95 {pct(w, 95):.1f} ms | ratio to plain, p50s: sandboxed "
              f"{statistics.median(s) / statistics.median(p):.2f}x, warm {statistics.median(w) / statistics.median(p):.2f}x"
              f" | median per-job ratio: sandboxed {sandbox_ratio:.2f}x, warm {warm_ratio:.2f}x ({args.jobs} jobs each)")
    print(f"2 workers, 10-case harness: plain {throughput(lambda: plain(TEN), args.jobs):.0f} jobs/s, sandboxed "
          f"{throughput(lambda: sandboxed(runner, TEN), args.jobs):.0f} jobs/s, warm sandboxes "
          f"{throughput(lambda: sandboxed(warm, TEN), args.jobs):.0f} jobs/s")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    warm.close()


if __name__ == "__main__":
    main()
