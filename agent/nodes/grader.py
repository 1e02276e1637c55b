"""The grader agent: grade the candidate's answer to the current turn and close the turn."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent.grading.code import grade_code
from agent.llm.offline import OfflineLLM
from agent.llm.port import GradeRequest, Reply

if TYPE_CHECKING:
    from agent.graph import GraphDeps


def _late(turn: dict[str, Any], answered_at: str) -> bool:
    budget = turn.get("time_budget_s")
    if not budget:
        return False
    taken = datetime.fromisoformat(answered_at) - datetime.fromisoformat(turn["asked_at"])
    return taken.total_seconds() > budget


def make_grader(deps: GraphDeps):
    async def grader(state: dict[str, Any]) -> dict[str, Any]:
        """Grade the answer (a skip grades as an empty answer) against the probed key points."""
        turn = dict(state["current"])
        action = state["action"]
        skipped = action["kind"] == "skip"
        answer = "" if skipped else action["text"]
        question = deps.bank.question(turn["question_id"])
        only = (turn["probed_key_point"],) if turn.get("probed_key_point") else ()
        model = deps.model(state)
        code_runs = list(turn.get("code_runs", []))
        if skipped:
            # Nothing to judge: the offline grader scores it zero with the model answer, at no cost.
            reply = await OfflineLLM().grade(GradeRequest(question=question, answer="", only=only))
        elif question.kind == "coding" and question.challenge and deps.runner:
            # Code is judged by the challenge's hidden tests in the sandbox, not by a model.
            result = await deps.runner.run_challenge(answer, question.challenge)
            grade, run = grade_code(question, answer, result)
            code_runs.append(run.model_dump(mode="json"))
            reply = Reply(value=grade)
        else:
            reply = await model.grade(GradeRequest(question=question, answer=answer, only=only))
        grade = reply.value
        if skipped:
            grade.notes.append("skipped")
        late = _late(turn, action["at"])
        if late and not skipped:
            grade.notes.append("answered after the time budget")
        turn.update(
            answer=answer,
            outcome="skipped" if skipped else "answered",
            answered_at=action["at"],
            late=late,
            code_runs=code_runs,
            grade=grade.model_dump(mode="json"),
            usage=turn.get("usage", []) + [u.model_dump() for u in reply.usage],
            guardrail_events=turn.get("guardrail_events", []) + [e.model_dump(mode="json") for e in model.events],
        )
        missed = set(grade.missed)
        if only:
            still_open = [kp for kp in state.get("open_points", []) if kp not in only or kp in missed]
        else:
            still_open = [kp.id for kp in question.key_points if kp.id in missed]
        return {
            "turns": [turn],
            "current": None,
            "action": None,
            "phase": "ask",
            "open_points": [] if skipped else still_open,
            "last_answer": answer,
            "model_calls": model.calls,
            "events": state.get("events", []) + [e.model_dump(mode="json") for e in model.events],
        }

    return grader
