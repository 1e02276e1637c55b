"""The supervisor: a pure routing table over the interview's phase and the candidate's action.

It routes on the graph's edges (LangGraph conditional edges after START and after every node),
not as a node of its own, so a turn costs four node runs (candidate, grader, interviewer,
candidate) instead of seven: each superstep LangGraph runs costs about as much as the bare
one-node turn it is measured against (`benchmarks/bench_turn.py`).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from langgraph.graph import END

from agent.config import Limits
from agent.graph.deps import Node
from agent.graph.state import InterviewState

ACTION_ROUTES: dict[str, str] = {"answer": "grader", "skip": "grader", "hint": "interviewer", "end": "finish"}
PHASE_ROUTES: dict[str, str] = {"ask": "interviewer", "await": "candidate"}
NODES = ("interviewer", "candidate", "grader", "code_runner", "finish", "stuck")
DESTINATIONS = (*NODES, END)

STUCK = ("The coach went round in circles on that step and stopped it; what was graded is saved. "
         "Send your answer again (or anything, if no question is shown), or /skip.")


def make_supervisor(limits: Limits, runs_code: bool) -> Any:
    """`runs_code`: coding answers go to the code runner (else the grader reads them as text)."""

    def supervisor(state: InterviewState) -> str:
        """Route on the interview's phase, then on what the candidate asked for.

        `steps` counts the node runs since the candidate's last action (see `counted`): past the
        per-action cap the turn ends gracefully (back to the candidate with a message, through
        `stuck`), never with an exception.
        """
        phase = state.get("phase", "ask")
        if phase == "done":
            return END
        if state.get("steps", 0) > limits.max_steps_per_action and phase != "await":
            return "stuck"
        if phase == "act":
            action, current = state.get("action"), state.get("current")
            goto = ACTION_ROUTES.get(action.kind, "candidate") if action else "candidate"
            if goto == "grader" and action and runs_code and current and current.kind == "coding":
                goto = "code_runner"
            return goto
        return PHASE_ROUTES[phase]

    return supervisor


def stuck(state: InterviewState) -> dict[str, Any]:
    """Past the step cap: back to the candidate's seat with a message. With a question open they
    answer it again; without one, their next message just lets the interviewer carry on."""
    return {"phase": "await", "action": None, "notice": STUCK}


def counted(node: Node) -> Node:
    """`node`, adding one to `steps`, the supervisor's count of node runs since the last action."""
    if inspect.iscoroutinefunction(node):
        @functools.wraps(node)
        async def counted_async(state: InterviewState) -> Any:
            return {**await node(state), "steps": state.get("steps", 0) + 1}

        return counted_async

    @functools.wraps(node)
    def counted_sync(state: InterviewState) -> Any:
        return {**node(state), "steps": state.get("steps", 0) + 1}

    return counted_sync
