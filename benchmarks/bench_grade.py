"""Offline grading speed on the bank: ms per answer (p50, p90), next to the naive anchor.

    python benchmarks/bench_grade.py [--answers N]

The anchor is the dev set README's naive baseline (reference content-word recall with 5-character
prefixes), run on the same answers, so the ratio says what the stronger grader costs on this
machine. The target is <= 5 ms p50. Answers are the golden set's hand-written ones; the grader is
warmed on a different half first, as a running process would be.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from machine import describe  # benchmarks/machine.py, beside this script

from agent.catalog import Catalog
from agent.grading.offline import OfflineGrader
from evals.golden import load_handwritten

STOP = frozenset(["a", "an", "the", "and", "or", "but", "if", "then", "so", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "into", "about", "is", "are", "was", "were", "be", "been", "being", "am", "it", "its", "this", "that", "these", "those", "there", "their", "they", "them", "he", "she", "his", "her", "we", "you", "your", "i", "my", "me", "our", "do", "does", "did", "has", "have", "had", "will", "would", "can", "could", "should", "may", "might", "must", "which", "what", "when", "where", "who", "whom", "how", "why", "because"])


def naive_recall(reference: str, answer: str) -> float:
    def stems(t: str) -> set[str]:
        return {w[:5] for w in re.findall(r"[a-z0-9]+", t.lower()) if w not in STOP}

    ref = stems(reference)
    return len(ref & stems(answer)) / len(ref) if ref else 0.0


def _time(fn, items, clock=time.perf_counter) -> list[float]:
    out = []
    for item in items:
        t = clock()
        fn(item)
        out.append((clock() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=0, help="cap on timed answers (default: all, none repeated)")
    args = parser.parse_args()
    bank = Catalog.load()
    cases = [c for c in load_handwritten() if c.answer.strip()]
    warm, timed = cases[1::2], cases[::2]
    timed = timed[: args.answers or None]  # each timed answer is new to the grader: no cache hits on repeats
    grader = OfflineGrader()
    for c in warm:
        grader.grade(bank.question(c.question_id), c.answer)
    ours = _time(lambda c: grader.grade(bank.question(c.question_id), c.answer), timed)
    anchor = _time(lambda c: naive_recall(bank.question(c.question_id).model_answer, c.answer), timed)
    cpu = _time(lambda c: grader.grade(bank.question(c.question_id), c.answer), timed, time.thread_time)
    p50, a50 = statistics.median(ours), statistics.median(anchor)
    p90 = sorted(ours)[int(0.9 * len(ours))]
    print(describe())
    print(f"answers: {len(timed)} (golden, hand-written) on {len({c.question_id for c in timed})} bank questions")
    print(f"{'grader':<28}{'p50 ms':>10}{'p90 ms':>10}")
    print(f"{'offline grader':<28}{p50:>10.3f}{p90:>10.3f}")
    print(f"{'anchor: naive word recall':<28}{a50:>10.3f}{sorted(anchor)[int(0.9 * len(anchor))]:>10.3f}")
    print(f"{'offline grader, CPU time':<28}{statistics.median(cpu):>10.3f}{sorted(cpu)[int(0.9 * len(cpu))]:>10.3f}"
          "  (second pass, caches warm; wall time suffers when the machine is loaded)")
    print(f"ratio p50: {p50 / a50:.0f}x the anchor · target <= 5 ms p50: {'met' if p50 <= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
