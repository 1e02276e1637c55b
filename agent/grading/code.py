"""Grading a coding answer: the hidden tests decide, through the sandboxed runner.

A coding question takes up to `Limits.submissions_per_challenge` submissions, as in a real round:
a failing one gets the first failing visible case back (input, expected, got; hidden cases are
only counted) and another go. Credit follows the attempt that passed: full on the first,
`ATTEMPT_CREDIT` after that. Code that fails any test is never rated above "hard" (2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agent.domain import CallCase, Challenge, CodeRun, Grade, KeyPointVerdict, OpsCase, Question
from agent.grading.offline import rating_for
from tools.runner import RunResult

JUDGED = ("passed", "failed")
ATTEMPT_CREDIT = (1.0, 0.8, 0.65)
"""Share of the score kept when the code passes on the first, second, third (or later) attempt."""
FAILING_CAP = 0.59
"""The highest score (rating 2, "hard") for code that fails any test."""
HARD = 2


def attempt_credit(attempt: int) -> float:
    return ATTEMPT_CREDIT[min(max(attempt, 1), len(ATTEMPT_CREDIT)) - 1]


def code_run(code: str, result: RunResult) -> CodeRun:
    """The submission as the transcript keeps it."""
    return CodeRun(code=code, status=result.status, passed=result.passed_count, total=len(result.tests),
                   duration_ms=result.duration_ms, result=result.model_dump(mode="json"), at=datetime.now(UTC))


def first_failure(challenge: Challenge, result: RunResult) -> str:
    """What went wrong, for the candidate: the run's message, the first failing visible case with
    its input, expected and actual output, and how many hidden cases failed (never which)."""
    if result.status not in JUDGED:
        return f"{result.status}: {result.message}".strip()
    lines: list[str] = []
    cases = challenge.cases if len(challenge.cases) == len(result.tests) else ()
    for n, test in enumerate(result.tests):
        case = cases[n] if cases else None
        if test.passed or not (case.visible if case else test.expected is not None):
            continue
        call = _call(challenge.entry_point, case) if case else test.name
        got = f"raised {test.error.strip()[:200]}" if test.error else f"got {_show(test.got)}"
        lines.append(f"First failing example ({test.name}): {call}\n  expected {_show(test.expected)}, {got}")
        break
    hidden_failed = sum(1 for n, t in enumerate(result.tests)
                        if not t.passed and not (cases[n].visible if cases else t.expected is not None))
    if hidden_failed:
        lines.append(f"{hidden_failed} hidden test(s) fail: think about edge cases (hidden inputs are not shown).")
    return "\n".join(lines) or f"{result.status}: {result.message}".strip()


def grade_code(question: Question, challenge: Challenge, code: str, result: RunResult, attempt: int = 1,
               plan: str = "") -> tuple[Grade, CodeRun]:
    """The final grade of a coding question from its last run on the `attempt`-th submission.

    Score = share of tests passed (0 when the run errored, timed out or was refused) times the
    attempt's credit, capped at "hard" unless every test passed. The feedback ends with the
    reference solution, its complexity and what the interviewer looks for; `plan` (the
    candidate's stated approach, in a live-coding round) is shown beside the reference one."""
    total = len(result.tests)
    passed = result.passed_count
    share = passed / total if total and result.status in JUDGED else 0.0
    score = round(share * attempt_credit(attempt), 4)
    rating = rating_for(score)
    if result.status != "passed":
        score, rating = min(score, FAILING_CAP), min(rating, HARD)
    verdict = "covered" if result.status == "passed" else "partial" if share >= 0.5 else "missing"
    verdicts = [KeyPointVerdict(key_point=kp.id, verdict=verdict,
                                evidence=f"{passed}/{total} tests passed" if verdict != "missing" else "")
                for kp in question.key_points]
    if result.status == "passed":
        credit = attempt_credit(attempt)
        lines = [f"passed on submission {attempt}: every test passes"
                 + ("." if credit == 1 else f"; {credit:.0%} credit (full credit needs a first-time pass).")]
    else:
        lines = [f"{passed}/{total} tests pass after {attempt} submission(s).", first_failure(challenge, result)]
    grade = Grade(
        score=score, rating=rating, verdicts=verdicts,
        strengths=[f"{passed} of {total} tests pass"] if passed else [],
        gaps=[] if result.status == "passed" else [result.message or f"{total - passed} test(s) fail"],
        next_step="Explain the time and space complexity of your solution." if result.status == "passed"
        else "Compare your code with the reference solution below, then retry the challenge from scratch.",
        feedback="\n".join([*lines, "", reference_walkthrough(challenge, plan)]).strip(),
        model_answer=challenge.reference_solution,
        grader="tests",
    )
    return grade, code_run(code, result)


def reference_walkthrough(challenge: Challenge, plan: str = "") -> str:
    """The discussion after the code: the reference approach (beside the candidate's plan), the
    reference solution, its complexity, what the interviewer looks for, the common mistakes."""
    parts: list[str] = []
    if plan.strip():
        parts.append(f"Your plan: {' '.join(plan.split())}")
    if challenge.discussion.strip():
        parts.append(f"Reference approach: {' '.join(challenge.discussion.split())}")
    parts.append("Reference solution:\n" + challenge.reference_solution.rstrip())
    if challenge.complexity:
        parts.append(f"Complexity: {challenge.complexity}")
    if challenge.looks_for:
        parts.append("The interviewer looks for: " + "; ".join(challenge.looks_for))
    if challenge.common_mistakes:
        parts.append("Common mistakes: " + "; ".join(challenge.common_mistakes))
    return "\n".join(parts)


def _call(entry: str, case: CallCase | OpsCase) -> str:
    if isinstance(case, OpsCase):
        steps = "; ".join(f"{op.method}({_args(op.args)})" for op in case.ops)
        return f"{entry}({_args(case.init_args)}); {steps}"
    kwargs = [f"{k}={_show(v)}" for k, v in case.kwargs.items()]
    return f"{entry}({', '.join([_args(case.args), *kwargs] if kwargs else [_args(case.args)])})"


def _args(args: tuple[Any, ...]) -> str:
    return ", ".join(_show(a) for a in args)


def _show(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
