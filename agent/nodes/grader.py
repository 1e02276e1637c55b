"""The grader agent: grade the candidate's answer to the current turn and close the turn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.llm.port import GradeRequest

if TYPE_CHECKING:
    from agent.graph import GraphDeps


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
        reply = await model.grade(GradeRequest(question=question, answer=answer, only=only))
        grade = reply.value
        if skipped:
            grade.notes.append("skipped")
        turn.update(
            answer=answer,
            outcome="skipped" if skipped else "answered",
            answered_at=action["at"],
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
