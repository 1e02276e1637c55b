"""The interview graph: a supervisor routes between the interviewer, the candidate, the grader
and the code runner.

    START -> supervisor -> interviewer --+
                 ^  |-> candidate (interrupt: waits for an action)
                 |  |-> grader        (text answers, skips)
                 |  |-> code_runner   (coding answers: hidden tests in the sandbox)
                 |  |-> finish -> END
                 +--------------+  every node hands back to the supervisor

`build_graph` returns the uncompiled graph so the caller chooses the checkpointer.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agent.graph.candidate import candidate_node
from agent.graph.code_runner import make_code_runner
from agent.graph.deps import CodeRunnerPort, GraphDeps
from agent.graph.grader import make_grader
from agent.graph.interviewer import make_finish, make_interviewer
from agent.graph.state import Action, ActionKind, InterviewState, OpenTurn
from agent.graph.supervisor import NODES, STUCK, make_supervisor

__all__ = ["STUCK", "Action", "ActionKind", "CodeRunnerPort", "GraphDeps", "InterviewState", "OpenTurn", "build_graph"]


def build_graph(deps: GraphDeps) -> StateGraph[InterviewState]:
    graph = StateGraph(InterviewState)
    graph.add_node("supervisor", make_supervisor(deps.limits, runs_code=deps.runner is not None),
                   destinations=(*NODES, END))
    graph.add_node("interviewer", make_interviewer(deps))
    graph.add_node("candidate", candidate_node)
    graph.add_node("grader", make_grader(deps))
    graph.add_node("code_runner", make_code_runner(deps))
    graph.add_node("finish", make_finish(deps))
    graph.add_edge(START, "supervisor")
    for node in NODES:
        graph.add_edge(node, "supervisor")
    return graph
