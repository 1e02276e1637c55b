"""The grader agent: grade the candidate's answer to the current turn and close the turn."""

from __future__ import annotations

from typing import Any

from agent.graph.closing import close_turn, earlier_answers
from agent.graph.deps import GraphDeps, Node
from agent.graph.state import InterviewState
from agent.llm.offline import OfflineLLM
from agent.llm.port import GradeRequest


def make_grader(deps: GraphDeps) -> Node:
    async def grader(state: InterviewState) -> dict[str, Any]:
        """Grade the answer (a skip grades as an empty answer) against the probed key points."""
        turn, action = state["current"], state["action"]
        assert turn is not None and action is not None, "the supervisor routes here only with an open turn"
        question = deps.catalog.question(turn.question_id)
        only = (turn.probed_key_point,) if turn.probed_key_point else ()
        model = deps.model(state)
        if action.kind == "skip":
            # Nothing to judge: the offline grader scores it zero with the model answer, at no cost.
            reply = await OfflineLLM().grade(GradeRequest(question=question, answer="", only=only))
        else:
            prior = earlier_answers(state, turn.question_id)
            reply = await model.grade(GradeRequest(question=question, answer=action.text, only=only, prior_answers=prior))
        return close_turn(state, question, turn, action, reply.value, reply.usage, model)

    return grader
