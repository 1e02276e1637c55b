"""The supervisor: a pure routing table over the interview's phase and the candidate's action."""

from __future__ import annotations

from langgraph.graph import END
from langgraph.types import Command

from agent.config import Limits
from agent.graph.deps import Node
from agent.graph.state import InterviewState

ACTION_ROUTES: dict[str, str] = {"answer": "grader", "skip": "grader", "hint": "interviewer", "end": "finish"}
PHASE_ROUTES: dict[str, str] = {"ask": "interviewer", "await": "candidate"}
NODES = ("interviewer", "candidate", "grader", "code_runner", "finish")

STUCK = ("The coach went round in circles on that step and stopped it; what was graded is saved. "
         "Send your answer again (or anything, if no question is shown), or /skip.")


def make_supervisor(limits: Limits, runs_code: bool) -> Node:
    """`runs_code`: coding answers go to the code runner (else the grader reads them as text)."""

    def supervisor(state: InterviewState) -> Command[str]:
        """Route on the interview's phase, then on what the candidate asked for.

        Counts its own visits since the candidate's last action: past the per-action cap the
        turn ends gracefully (back to the candidate with a message), never with an exception.
        """
        steps = state.get("steps", 0) + 1
        phase = state.get("phase", "ask")
        if phase == "done":
            return Command(goto=END)
        if steps > limits.max_steps_per_action and phase != "await":
            # Back to the candidate: with a question open they answer it again; without one,
            # their next message just lets the interviewer carry on.
            return Command(goto="candidate", update={"phase": "await", "action": None, "notice": STUCK, "steps": steps})
        if phase == "act":
            action, current = state.get("action"), state.get("current")
            goto = ACTION_ROUTES.get(action.kind, "candidate") if action else "candidate"
            if goto == "grader" and action and runs_code and current and current.kind == "coding":
                goto = "code_runner"
        else:
            goto = PHASE_ROUTES[phase]
        return Command(goto=goto, update={"steps": steps})

    return supervisor
