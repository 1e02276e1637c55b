"""The code runner over MCP: a server exposing `run_code`, and the client the coach uses to reach
a runner pool elsewhere (settings: COACH_RUNNER_URL, streamable HTTP).

    server = build_runner_server(CodeRunner(), challenges.__getitem__, max_code_chars=50_000)
    runner = McpCodeRunner("http://runners:8766/mcp", token)  # or McpCodeRunner(server), in memory
    result = await runner.run_challenge(code, "two-sum")
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Annotated, Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from pydantic import Field

from tools.runner import CodeRunner, RunResult
from tools.runner.cases import Challenge
from tools.runner.limits import CodeRejected, check_code, check_tests


class _BearerToken:
    """The SDK's TokenVerifier for one shared secret (COACH_MCP_TOKEN), compared in constant time."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._secret):
            return None
        return AccessToken(token="(bearer)", client_id="coach", scopes=[])


def build_runner_server(runner: CodeRunner, challenge_of: Callable[[str], Challenge],
                        max_code_chars: int = 50_000, max_tests_chars: int = 100_000,
                        token: str | None = None) -> MCPServer:
    """A server with one tool, `run_code`; `challenge_of` looks a challenge up (LookupError if unknown).
    With `token`, served over HTTP it answers 401 to a request without `Authorization: Bearer <token>`."""
    guard: dict[str, Any] = {}
    if token:  # resource server only: the SDK wants an issuer URL but never contacts it
        guard = {"token_verifier": _BearerToken(token),
                 "auth": AuthSettings(issuer_url="http://127.0.0.1", resource_server_url=None)}
    server = MCPServer("coach-code-runner", log_level="WARNING",
                       instructions="Runs Python code in a sandbox against tests.", **guard)

    @server.tool()
    async def run_code(
        code: Annotated[str, Field(description="the Python source to run (the candidate's solution)")],
        challenge_id: Annotated[str | None, Field(description="run against this challenge's hidden tests")] = None,
        tests: Annotated[str | None, Field(description="or: assert-style test code / a check(candidate) function")] = None,
        entry_point: Annotated[str | None, Field(description="the function check(candidate) receives")] = None,
    ) -> RunResult:
        """Run Python code in an isolated sandbox against a challenge's hidden tests or given test code."""
        if (challenge_id is None) == (tests is None):
            raise ToolError("pass exactly one of challenge_id and tests")
        try:
            source = check_code(code, max_code_chars)
            if challenge_id is not None:
                return await asyncio.to_thread(runner.run_challenge, source, challenge_of(challenge_id))
            assert tests is not None
            return await asyncio.to_thread(runner.run_tests, source, check_tests(tests, max_tests_chars), entry_point)
        except (CodeRejected, LookupError) as err:
            raise ToolError(str(err).strip("'\"")) from None

    return server


class McpCodeRunner:
    """The runner port over MCP: one `run_code` call per job."""

    def __init__(self, target: str | MCPServer, token: str | None = None) -> None:
        self._target = target
        self._token = token

    async def run_challenge(self, code: str, challenge_id: str) -> RunResult:
        return await self._call({"code": code, "challenge_id": challenge_id})

    async def run_tests(self, code: str, tests: str, entry_point: str | None = None) -> RunResult:
        return await self._call({"code": code, "tests": tests, "entry_point": entry_point})

    async def _call(self, arguments: dict[str, str | None]) -> RunResult:
        if isinstance(self._target, str) and self._token:
            headers = {"Authorization": f"Bearer {self._token}"}
            try:
                async with (create_mcp_http_client(headers=headers) as http,
                            Client(streamable_http_client(self._target, http_client=http)) as client):
                    result = await client.call_tool("run_code", arguments)
            except (MCPError, OSError, ExceptionGroup):
                return RunResult(status="unavailable", message=f"the code runner pool at {self._target} refused "
                                 "the request: check COACH_RUNNER_URL and that COACH_MCP_TOKEN matches the pool's")
        else:
            async with Client(self._target) as client:
                result = await client.call_tool("run_code", arguments)
        if result.is_error:
            text = getattr(result.content[0], "text", "") if result.content else ""
            return RunResult(status="error", message=text or "the code runner failed")
        return RunResult.model_validate(result.structured_content)

    def close(self) -> None:
        """Nothing to release: each call opens and closes its own connection."""
