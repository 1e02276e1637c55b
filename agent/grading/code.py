"""Grading a coding answer: the hidden tests decide, through the sandboxed runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agent.domain import Challenge, CodeRun, Grade, KeyPointVerdict, Question
from agent.grading.offline import rating_for
from tools.runner import RunResult

JUDGED = ("passed", "failed")


def grade_code(question: Question, challenge: Challenge, code: str, result: RunResult) -> tuple[Grade, CodeRun]:
    """Score = share of tests passed (0 when the run errored, timed out or was refused)."""
    total = len(result.tests)
    passed = result.passed_count
    score = round(passed / total, 4) if total and result.status in JUDGED else 0.0
    verdict = "covered" if result.status == "passed" else "partial" if score >= 0.5 else "missing"
    verdicts = [KeyPointVerdict(key_point=kp.id, verdict=verdict,
                                evidence=f"{passed}/{total} tests passed" if verdict != "missing" else "")
                for kp in question.key_points]
    lines = [f"{result.status}: {result.message}"]
    for t in result.tests:
        if not t.passed and t.expected is not None:
            lines.append(f"{t.name}: expected {json.dumps(t.expected)}, got {json.dumps(t.got)} {t.error[:200]}".strip())
    hidden_failed = sum(1 for t in result.tests if not t.passed and t.expected is None)
    if hidden_failed:
        lines.append(f"{hidden_failed} hidden test(s) failed: think about edge cases.")
    grade = Grade(
        score=score, rating=rating_for(score), verdicts=verdicts,
        strengths=[f"{passed} of {total} tests pass"] if passed else [],
        gaps=[] if result.status == "passed" else [result.message],
        next_step="Explain the time and space complexity of your solution." if result.status == "passed"
        else "Run the visible examples by hand, then fix the first failing case.",
        feedback="\n".join(lines), model_answer=challenge.reference_solution,
        grader="tests",
    )
    run = CodeRun(code=code, status=result.status, passed=passed, total=total, duration_ms=result.duration_ms,
                  result=result.model_dump(mode="json"), at=datetime.now(UTC))
    return grade, run
