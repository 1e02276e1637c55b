"""The code-runner node: a coding answer is judged by the challenge's hidden tests, not a model."""

from __future__ import annotations

from typing import Any

from agent.grading.code import grade_code
from agent.graph.closing import close_turn
from agent.graph.deps import GraphDeps, Node
from agent.graph.grader import make_grader
from agent.graph.state import InterviewState


def make_code_runner(deps: GraphDeps) -> Node:
    read_as_text = make_grader(deps)

    async def code_runner(state: InterviewState) -> dict[str, Any]:
        """Run the answer in the sandbox against the hidden cases and close the turn with the result."""
        turn, action = state["current"], state["action"]
        assert turn is not None and action is not None and deps.runner is not None
        question = deps.catalog.question(turn.question_id)
        challenge = deps.catalog.challenge(question.challenge) if question.challenge else None
        if challenge is None:  # a coding question without a challenge is read as text
            update: dict[str, Any] = await read_as_text(state)
            return update
        result = await deps.runner.run_challenge(action.text, challenge.id)
        grade, run = grade_code(question, challenge, action.text, result)
        return close_turn(state, question, turn, action, grade, [], deps.model(state), code_runs=[run])

    return code_runner
