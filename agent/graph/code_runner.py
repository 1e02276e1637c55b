"""The code-runner node: a coding answer is judged by the challenge's hidden tests, not a model.

Like a real round, a failing submission is not the end: the candidate sees the first failing
visible case and sends the code again, up to `Limits.submissions_per_challenge` times. The turn
closes on a pass, on the last submission, or on a skip (graded on the last run, if any), with the
reference solution and its discussion.
"""

from __future__ import annotations

from typing import Any

from agent.domain import Challenge
from agent.grading.code import code_run, first_failure, grade_code
from agent.grading.submission import extract_code
from agent.graph.closing import close_turn
from agent.graph.deps import GraphDeps, Node
from agent.graph.grader import make_grader
from agent.graph.state import InterviewState
from tools.runner import RunResult


def make_code_runner(deps: GraphDeps) -> Node:
    read_as_text = make_grader(deps)
    allowed = deps.limits.submissions_per_challenge

    async def code_runner(state: InterviewState) -> dict[str, Any]:
        """Run the answer in the sandbox against the hidden cases; retry or close the turn."""
        turn, action = state["current"], state["action"]
        assert turn is not None and action is not None and deps.runner is not None
        question = deps.catalog.question(turn.question_id)
        challenge = deps.catalog.challenge(question.challenge) if question.challenge else None
        if challenge is None or (action.kind == "skip" and not turn.code_runs):
            update: dict[str, Any] = await read_as_text(state)  # no challenge, or nothing to judge
            if challenge is not None and update["turns"][0].grade:
                update["turns"][0].grade.model_answer = challenge.reference_solution
            return update
        plan = _plan(state, challenge)
        if action.kind == "skip":  # graded on the last submission, as it stands
            last = RunResult.model_validate(turn.code_runs[-1].result)
            grade, _run = grade_code(question, challenge, turn.code_runs[-1].code, last, len(turn.code_runs), plan)
            return close_turn(state, question, turn, action, grade, [], deps.model(state))
        code = extract_code(action.text)
        result = await deps.runner.run_challenge(code, challenge.id)
        attempt = len(turn.code_runs) + 1
        if result.status == "unavailable":  # the sandbox, not the candidate: the attempt does not count
            return {"phase": "await", "action": None,
                    "notice": f"{result.message} Your submission was not counted; send it again later, or /skip."}
        if result.status != "passed" and attempt < allowed:
            left = allowed - attempt
            notice = (f"Submission {attempt} of {allowed}: {result.passed_count}/{len(result.tests)} tests pass.\n"
                      f"{first_failure(challenge, result)}\n"
                      f"Fix it and send your code again ({left} submission{'s' if left > 1 else ''} left), or /skip.")
            current = turn.model_copy(update={"code_runs": [*turn.code_runs, code_run(code, result)]})
            return {"current": current, "phase": "await", "action": None, "notice": notice}
        grade, run = grade_code(question, challenge, code, result, attempt, plan)
        return close_turn(state, question, turn, action, grade, [], deps.model(state), code_runs=[run])

    def _plan(state: InterviewState, challenge: Challenge) -> str:
        """The candidate's stated plan for this challenge (a live-coding round asks for one first)."""
        for t in reversed(state.get("turns", [])):
            if t.outcome == "answered" and t.question_id != state.get("question_id"):
                asked = deps.catalog.question(t.question_id)
                if asked.kind != "coding" and asked.challenge == challenge.id:
                    return t.answer
        return ""

    return code_runner
