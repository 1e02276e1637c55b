"""The interview graph: a supervisor routes between the interviewer, the candidate and the grader.

    START -> supervisor -> interviewer --+
                 ^  |-> candidate (interrupt: waits for an action)
                 |  |-> grader
                 |  |-> finish -> END
                 +--------------+  every node hands back to the supervisor

The supervisor is a pure routing table over `phase` and the candidate's action kind. A new
kind of action (the code runner's "code") is one entry in `ACTION_ROUTES` and one node.
`build_graph` returns the uncompiled graph so the caller chooses the checkpointer.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from agent.config import Budgets, Limits
from agent.guardrails import CostGate, GuardedLLM, budget_scopes
from agent.llm.port import LLM
from agent.memory import Memory
from agent.nodes.candidate import candidate_node
from agent.nodes.grader import make_grader
from agent.nodes.interviewer import make_finish, make_interviewer
from tools.bank import QuestionBank
from tools.runner import RunResult

Phase = Literal["ask", "await", "act", "done"]
ActionKind = Literal["answer", "hint", "skip", "end"]


class Action(TypedDict, total=False):
    kind: ActionKind
    text: str
    at: str
    """ISO timestamp taken by the service, so a re-run node sees the same time."""
    key: str
    """Optional idempotency key from the front-end (e.g. a Telegram update id)."""


class InterviewState(TypedDict, total=False):
    session_id: str
    user: str
    plan: list[dict[str, Any]]
    """One slot per main question (`agent.planner.Slot`): what may fill it."""
    position: int
    """Index into `plan` of the question being discussed; -1 before the first."""
    question_id: str
    """The main question being discussed."""
    asked: list[str]
    difficulty: int
    """The difficulty the next main question aims at (1-3); moves with the answers."""
    seq: int
    """Sequence number the next asked turn gets."""
    phase: Phase
    current: dict[str, Any] | None
    """The asked-but-unanswered turn (a `Turn` as JSON)."""
    action: Action | None
    turns: Annotated[list[dict[str, Any]], operator.add]
    """Finished turns (append-only)."""
    open_points: list[str]
    """Key points of the current question still missed after its answers so far."""
    probed: list[str]
    last_answer: str
    context: str
    notice: str
    """A message for the candidate from the last step (e.g. a guardrail), shown once."""
    events: list[dict[str, Any]]
    """Guardrail events since the candidate's last action (`GuardrailEvent` as JSON)."""
    model_calls: int
    """Model calls made since the candidate's last action (capped per turn)."""
    steps: int
    """Supervisor visits since the candidate's last action (capped per action)."""
    action_keys: list[str]
    """Idempotency keys of recent actions (e.g. a chat message id): a repeat is dropped."""
    duplicate: bool
    """The last action was a repeat and was dropped."""


ACTION_ROUTES: dict[str, str] = {"answer": "grader", "skip": "grader", "hint": "interviewer", "end": "finish"}
PHASE_ROUTES: dict[str, str] = {"ask": "interviewer", "await": "candidate"}


STUCK = ("The coach went round in circles on that step and stopped it; what was graded is saved. "
         "Send your answer again (or anything, if no question is shown), or /skip.")


def make_supervisor(limits: Limits):
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
            action = state.get("action") or {}
            goto = ACTION_ROUTES.get(action.get("kind", ""), "candidate")
        else:
            goto = PHASE_ROUTES[phase]
        return Command(goto=goto, update={"steps": steps})

    return supervisor


class CodeRunnerPort(Protocol):
    async def run_challenge(self, code: str, challenge_id: str) -> RunResult: ...


@dataclass(frozen=True)
class GraphDeps:
    llm: LLM
    bank: QuestionBank
    limits: Limits
    memory_of: Callable[[str], Memory] = lambda _user: Memory()
    """The user's memory (due reviews, seen questions, mastery); empty for a stateless graph."""
    missed_before: Callable[[str, str], Counter[str]] = lambda _user, _question: Counter()
    """How often the user missed each key point of a question before (orders the probes)."""
    gate: CostGate | None = None
    """Prices, budgets and the ledger; None runs without cost budgets (tests, offline)."""
    runner: CodeRunnerPort | None = None
    """Runs coding answers against hidden tests (an MCP client to the runner by default)."""
    budgets: Budgets = field(default_factory=Budgets)

    def model(self, state: dict[str, Any]) -> GuardedLLM:
        """The model for one step of this session, inside its call cap and budgets."""
        scopes = budget_scopes(self.budgets, state.get("user", ""), state.get("session_id", ""))
        return GuardedLLM(self.llm, self.gate, scopes, state.get("model_calls", 0), self.limits)


def build_graph(deps: GraphDeps) -> StateGraph:
    graph = StateGraph(InterviewState)
    graph.add_node("supervisor", make_supervisor(deps.limits), destinations=("interviewer", "candidate", "grader", "finish", END))
    graph.add_node("interviewer", make_interviewer(deps))
    graph.add_node("candidate", candidate_node)
    graph.add_node("grader", make_grader(deps))
    graph.add_node("finish", make_finish(deps))
    graph.add_edge(START, "supervisor")
    for node in ("interviewer", "candidate", "grader", "finish"):
        graph.add_edge(node, "supervisor")
    return graph
