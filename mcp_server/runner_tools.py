"""The code-runner tools, on any MCPServer: run code in the sandbox, read a challenge.

`build_runner_server()` is the runner on its own (what the interview graph talks to, in memory by
default or over streamable HTTP as a separate pool); the coach's server adds the same tools.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from agent.config import Limits
from agent.errors import CoachError
from agent.guardrails import check_code
from tools.runner import CodeRunner, RunResult, load_challenge, load_challenges


class ChallengeView(BaseModel):
    """What a candidate may see of a challenge: never the hidden cases or the reference."""

    id: str
    title: str
    difficulty: int
    statement: str
    starter: str
    time_budget_min: int
    examples: list[dict[str, Any]]


def challenge_view(challenge_id: str) -> ChallengeView:
    c = load_challenge(challenge_id)
    examples = [case.model_dump(exclude={"visible"}) for case in c.visible_cases]
    return ChallengeView(id=c.id, title=c.title, difficulty=c.difficulty, statement=c.statement,
                         starter=c.starter, time_budget_min=c.time_budget_min, examples=examples)


def add_runner_tools(server: MCPServer, runner: CodeRunner, limits: Limits) -> None:
    @server.tool()
    async def run_code(
        code: Annotated[str, Field(description="the Python source to run (the candidate's solution)")],
        challenge_id: Annotated[str | None, Field(description="run against this challenge's hidden tests")] = None,
        tests: Annotated[str | None, Field(description="or: assert-style test code / a check(candidate) function")] = None,
        entry_point: Annotated[str | None, Field(description="the function check(candidate) receives")] = None,
    ) -> RunResult:
        """Run Python code in an isolated sandbox (no network, limited CPU, memory and time) against
        a challenge's hidden tests or against given test code. Returns a status (passed, failed,
        error, timeout, memory, output_limit, unavailable) and one record per test; expected values
        are shown only for the challenge's visible examples."""
        if (challenge_id is None) == (tests is None):
            raise ToolError("pass exactly one of challenge_id and tests")
        try:
            source = check_code(code, limits)
            if challenge_id is not None:
                return await asyncio.to_thread(runner.run_challenge, source, load_challenge(challenge_id))
            return await asyncio.to_thread(runner.run_tests, source, tests, entry_point)
        except CoachError as err:
            raise ToolError(str(err)) from None

    @server.tool()
    async def get_challenge(challenge_id: str) -> ChallengeView:
        """A coding challenge's statement, starter code, time budget and visible examples."""
        try:
            return challenge_view(challenge_id)
        except CoachError as err:
            raise ToolError(f"{err}; list_challenges shows them") from None

    @server.tool()
    async def list_challenges() -> dict[str, str]:
        """Coding challenges by id, with their titles."""
        return {c.id: c.title for c in load_challenges().values()}


def build_runner_server(runner: CodeRunner | None = None, limits: Limits | None = None) -> MCPServer:
    server = MCPServer("coach-code-runner", log_level="WARNING",
                       instructions="Runs Python code in a sandbox against tests.")
    add_runner_tools(server, runner or CodeRunner(), limits or Limits())
    return server
