"""The interview graph's way to the code runner: an MCP client calling `run_code`.

In memory by default (the runner server lives in this process); with `COACH_RUNNER_URL` set it
talks streamable HTTP to a runner pool elsewhere. Either way the graph sees one async method.
"""

from __future__ import annotations

from mcp import Client

from mcp_server.runner_tools import build_runner_server
from tools.runner import CodeRunner, RunResult


class McpCodeRunner:
    def __init__(self, url: str | None = None, warm_workers: int = 0) -> None:
        """`warm_workers` only applies to the in-process runner (a remote one has its own)."""
        self._target = url or build_runner_server(CodeRunner(warm_workers=warm_workers))

    async def run_challenge(self, code: str, challenge_id: str) -> RunResult:
        async with Client(self._target) as client:
            result = await client.call_tool("run_code", {"code": code, "challenge_id": challenge_id})
        if result.is_error:
            text = result.content[0].text if result.content else "the code runner failed"
            return RunResult(status="error", message=text)
        return RunResult.model_validate(result.structured_content)
