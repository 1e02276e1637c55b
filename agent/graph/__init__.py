"""The interview graph: a supervisor routes between the interviewer, the candidate, the grader
and the code runner.

    START -> supervisor -> interviewer --+
                 ^  |-> candidate (interrupt: waits for an action)
                 |  |-> grader        (text answers, skips)
                 |  |-> code_runner   (coding answers: hidden tests in the sandbox)
                 |  |-> finish -> END
                 |  |-> stuck         (past the step cap: back to the candidate)
                 +--------------+  after every node the supervisor routes again

The supervisor is the routing function on the edges (agent/graph/supervisor.py), so routing
costs no superstep of its own.

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
from agent.graph.supervisor import DESTINATIONS, NODES, STUCK, counted, make_supervisor, stuck

__all__ = ["STUCK", "Action", "ActionKind", "CodeRunnerPort", "GraphDeps", "InterviewState", "OpenTurn", "build_graph"]


def build_graph(deps: GraphDeps) -> StateGraph[InterviewState]:
    graph = StateGraph(InterviewState)
    graph.add_node("interviewer", counted(make_interviewer(deps)))
    graph.add_node("candidate", candidate_node)  # starts the count afresh: it takes the action
    graph.add_node("grader", counted(make_grader(deps)))
    graph.add_node("code_runner", counted(make_code_runner(deps)))
    graph.add_node("finish", counted(make_finish(deps)))
    graph.add_node("stuck", stuck)
    supervisor = make_supervisor(deps.limits, runs_code=deps.runner is not None)
    graph.add_conditional_edges(START, supervisor, DESTINATIONS)
    for node in NODES:
        graph.add_conditional_edges(node, supervisor, DESTINATIONS)
    return graph
