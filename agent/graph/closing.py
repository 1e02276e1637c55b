"""Closing the open turn once its answer is judged: shared by the grader and the code runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.domain import CodeRun, Grade, Question, Usage
from agent.grading.offline import stated_key_points
from agent.graph.state import Action, InterviewState, OpenTurn
from agent.guardrails import GuardedLLM
from agent.hints import cap_hinted


def earlier_answers(state: InterviewState, question_id: str) -> tuple[str, ...]:
    """What the candidate said earlier on this question (its main answer and follow-ups)."""
    return tuple(t.answer for t in state.get("turns", [])
                 if t.question_id == question_id and t.outcome == "answered" and t.answer.strip())


def is_late(turn: OpenTurn, action: Action) -> bool:
    if not turn.time_budget_s:
        return False
    return (action.at - turn.asked_at).total_seconds() > turn.time_budget_s


def close_turn(state: InterviewState, question: Question, turn: OpenTurn, action: Action, grade: Grade,
               usage: list[Usage], model: GuardedLLM, code_runs: Sequence[CodeRun] = ()) -> dict[str, Any]:
    """The state update that records the graded turn and hands back to the interviewer."""
    skipped = action.kind == "skip"
    answer = "" if skipped else action.text
    if skipped:
        grade.notes.append("skipped")
    if turn.hinted and not skipped:
        grade = cap_hinted(grade, question, turn.hinted, (turn.probed_key_point,) if turn.probed_key_point else ())
    late = is_late(turn, action)
    if late and not skipped:
        grade.notes.append("answered after the time budget")
    closed = turn.closed(
        answer=answer, outcome="skipped" if skipped else "answered", answered_at=action.at, late=late,
        code_runs=[*turn.code_runs, *code_runs], grade=grade, usage=[*turn.usage, *usage],
        guardrail_events=[*turn.guardrail_events, *model.events],
        self_rating=None if skipped else action.confidence,
    )
    only = (turn.probed_key_point,) if turn.probed_key_point else ()
    missed = set(grade.missed)
    if only:
        still_open = [kp for kp in state.get("open_points", []) if kp not in only or kp in missed]
    else:
        still_open = [kp.id for kp in question.key_points if kp.id in missed]
    if still_open and not skipped and question.kind != "coding":
        # Never probe a point the candidate already stated, in this answer or an earlier one.
        stated = set(stated_key_points(question, answer, earlier_answers(state, question.id)))
        still_open = [kp for kp in still_open if kp not in stated]
    return {
        "turns": [closed],
        "current": None,
        "action": None,
        "phase": "ask",
        "open_points": [] if skipped else still_open,
        "last_answer": answer,
        "model_calls": model.calls,
        "events": [*state.get("events", []), *model.events],
    }
