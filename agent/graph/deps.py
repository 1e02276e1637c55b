"""What the graph's nodes need from the outside, handed in once by the service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.catalog import Catalog
from agent.config import Budgets, Limits
from agent.graph.state import InterviewState
from agent.guardrails import CostGate, GuardedLLM, budget_scopes
from agent.llm.port import LLM
from agent.memory import Memory
from tools.runner import RunResult


class Node(Protocol):
    """A graph node: reads the state, returns the update (a coroutine for the agents)."""

    def __call__(self, state: InterviewState) -> Any: ...


class CodeRunnerPort(Protocol):
    """Runs code in the sandbox: in this process, or a runner pool over MCP."""

    async def run_challenge(self, code: str, challenge_id: str) -> RunResult: ...

    async def run_tests(self, code: str, tests: str, entry_point: str | None = None) -> RunResult: ...


def _no_memory(_user: str) -> Memory:
    return Memory()


def _no_misses(_user: str, _question: str) -> Counter[str]:
    return Counter()


@dataclass(frozen=True)
class GraphDeps:
    llm: LLM
    catalog: Catalog
    limits: Limits
    memory_of: Callable[[str], Memory] = _no_memory
    """The user's memory (due reviews, seen questions, mastery); empty for a stateless graph."""
    missed_before: Callable[[str, str], Counter[str]] = _no_misses
    """How often the user missed each key point of a question before (orders the probes)."""
    gate: CostGate | None = None
    """Prices, budgets and the ledger; None runs without cost budgets (tests, offline)."""
    runner: CodeRunnerPort | None = None
    """Runs coding answers against hidden tests; None grades code as text."""
    budgets: Budgets = field(default_factory=Budgets)

    def model(self, state: InterviewState) -> GuardedLLM:
        """The model for one step of this session, inside its call cap and budgets."""
        scopes = budget_scopes(self.budgets, state.get("user", ""), state.get("session_id", ""))
        return GuardedLLM(self.llm, self.gate, scopes, state.get("model_calls", 0), self.limits)
