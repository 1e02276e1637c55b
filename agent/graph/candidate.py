"""The candidate's seat: the graph pauses here until the service resumes it with an action.

Only `interrupt()` lives in this node: LangGraph re-runs it from the first line on resume, so
nothing before the interrupt may have side effects.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent.graph.state import Action, InterviewState

KEEP_KEYS = 50
"""How many recent action keys a session remembers to drop duplicates."""


def candidate_node(state: InterviewState) -> dict[str, Any]:
    """Wait for an answer, a hint request, a skip or the end."""
    current = state.get("current")
    action = Action.model_validate(interrupt({"current": current, "notice": state.get("notice", "")}))
    if action.key and action.key in state.get("action_keys", []):
        return {"duplicate": True}  # delivered twice (a retried webhook, a double tap): act once
    fresh: dict[str, Any] = {"notice": "", "events": [], "model_calls": 0, "steps": 1, "duplicate": False}
    if action.key:
        fresh["action_keys"] = ([*state.get("action_keys", []), action.key])[-KEEP_KEYS:]
    if current is None:
        return {**fresh, "action": None, "phase": "ask"}  # nothing was asked: carry on
    return {**fresh, "action": action, "phase": "act"}
