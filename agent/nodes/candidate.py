"""The candidate's seat: the graph pauses here until the service resumes it with an action.

Only `interrupt()` lives in this node: LangGraph re-runs it from the first line on resume, so
nothing before the interrupt may have side effects.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

KEEP_KEYS = 50
"""How many recent action keys a session remembers to drop duplicates."""


def candidate_node(state: dict[str, Any]) -> dict[str, Any]:
    """Wait for an answer, a hint request, a skip or the end."""
    action = interrupt({"current": state.get("current"), "notice": state.get("notice", "")})
    key = action.get("key")
    if key and key in state.get("action_keys", []):
        return {"duplicate": True}  # delivered twice (a retried webhook, a double tap): act once
    fresh = {"notice": "", "events": [], "model_calls": 0, "steps": 0, "duplicate": False}
    if key:
        fresh["action_keys"] = (state.get("action_keys", []) + [key])[-KEEP_KEYS:]
    if state.get("current") is None:
        return {**fresh, "action": None, "phase": "ask"}  # nothing was asked: carry on
    return {**fresh, "action": action, "phase": "act"}
