"""The supervisor: a pure routing table over the interview's phase and the candidate's action.

It is not a node of its own: every node hands back to it (`supervised`), and it names the next
node in the node's `Command`, so a turn costs four node runs (candidate, grader, interviewer,
candidate) instead of seven. Each superstep LangGraph runs costs about a third of the bare
one-node turn it is measured against (`benchmarks/bench_turn.py`), and a conditional edge would
add a traced run of its own per routing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from langgraph.graph import END
from langgraph.types import Command

from agent.config import Limits
from agent.graph.deps import Node
from agent.graph.state import InterviewState

ACTION_ROUTES: dict[str, str] = {"answer": "grader", "skip": "grader", "hint": "interviewer", "end": "finish"}
PHASE_ROUTES: dict[str, str] = {"ask": "interviewer", "await": "candidate"}
NODES = ("interviewer", "candidate", "grader", "code_runner", "finish", "stuck")
DESTINATIONS = (*NODES, END)

Supervisor = Callable[[InterviewState], str]
"""Names the node that acts next (or END) from the state."""

STUCK = ("The coach went round in circles on that step and stopped it; what was graded is saved. "
         "Send your answer again (or anything, if no question is shown), or /skip.")


def make_supervisor(limits: Limits, runs_code: bool) -> Supervisor:
    """`runs_code`: coding answers go to the code runner (else the grader reads them as text)."""

    def supervisor(state: InterviewState) -> str:
        """Route on the interview's phase, then on what the candidate asked for.

        `steps` counts the node runs since the candidate's last action (see `supervised`): past the
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


def supervised(node: Node, supervisor: Supervisor, counts: bool = True) -> Node:
    """`node`, handing back to the supervisor: after its update, the supervisor names the next node
    (a `Command`), so routing needs neither a node nor a traced edge of its own. `counts`: the run
    adds one to `steps` (the candidate's own update starts the count afresh)."""

    def handoff(state: InterviewState, update: dict[str, Any]) -> Command[str]:
        if counts:
            update = {**update, "steps": state.get("steps", 0) + 1}
        # The supervisor reads only plain last-value keys (phase, steps, action, current), so the
        # state it routes on is the state with this update applied.
        after: InterviewState = {**state, **update}  # type: ignore[typeddict-item]  # node updates are partial states
        return Command(goto=supervisor(after), update=update)

    if inspect.iscoroutinefunction(node):
        @functools.wraps(node)
        async def supervised_async(state: InterviewState) -> Command[str]:
            return handoff(state, await node(state))

        return supervised_async

    @functools.wraps(node)
    def supervised_sync(state: InterviewState) -> Command[str]:
        return handoff(state, node(state))

    return supervised_sync
