"""The interview graph: a supervisor routes between the interviewer, the candidate, the grader
and the code runner.

    START -> supervisor -> interviewer --+
                 ^  |-> candidate (interrupt: waits for an action)
                 |  |-> grader        (text answers, skips)
                 |  |-> code_runner   (coding answers: hidden tests in the sandbox)
                 |  |-> finish -> END
                 |  |-> stuck         (past the step cap: back to the candidate)
                 +--------------+  every node hands back to the supervisor

The supervisor is a routing function every node hands back to (agent/graph/supervisor.py):
it names the next node in the node's `Command`, so routing costs no superstep of its own.

`build_graph` returns the uncompiled graph so the caller chooses the checkpointer.
"""

from __future__ import annotations

from langgraph.graph import START, StateGraph

from agent.graph.candidate import candidate_node
from agent.graph.code_runner import make_code_runner
from agent.graph.deps import CodeRunnerPort, GraphDeps
from agent.graph.grader import make_grader
from agent.graph.interviewer import make_finish, make_interviewer
from agent.graph.state import Action, ActionKind, InterviewState, OpenTurn
from agent.graph.supervisor import DESTINATIONS, STUCK, make_supervisor, stuck, supervised

__all__ = ["STUCK", "Action", "ActionKind", "CodeRunnerPort", "GraphDeps", "InterviewState", "OpenTurn", "build_graph"]


def build_graph(deps: GraphDeps) -> StateGraph[InterviewState]:
    graph = StateGraph(InterviewState)
    supervisor = make_supervisor(deps.limits, runs_code=deps.runner is not None)
    nodes = {
        "interviewer": supervised(make_interviewer(deps), supervisor),
        "candidate": supervised(candidate_node, supervisor, counts=False),  # it starts the count afresh
        "grader": supervised(make_grader(deps), supervisor),
        "code_runner": supervised(make_code_runner(deps), supervisor),
        "finish": supervised(make_finish(deps), supervisor),
        "stuck": supervised(stuck, supervisor, counts=False),
    }
    for name, node in nodes.items():
        graph.add_node(name, node, destinations=DESTINATIONS)
    graph.add_conditional_edges(START, supervisor, list(DESTINATIONS))
    return graph
