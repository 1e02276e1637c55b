"""Which code runner the coach uses, from settings: in this process, or a runner pool over MCP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.catalog import Catalog
from agent.config import Settings
from tools.runner import CodeRunner
from tools.runner.local import LocalCodeRunner

if TYPE_CHECKING:
    from tools.runner.over_mcp import McpCodeRunner


def sandbox_runner(settings: Settings, warm_workers: int | None = None) -> CodeRunner:
    """The sandbox with the limits and the unsafe developer flag from settings."""
    return CodeRunner(settings.runner_limits, allow_unsafe=settings.unsafe_runner,
                      warm_workers=settings.runner_warm if warm_workers is None else warm_workers)


def open_code_runner(settings: Settings, catalog: Catalog) -> LocalCodeRunner | McpCodeRunner:
    """The runner port for the interview graph and the `run_code` verb."""
    if settings.runner_url:
        from tools.runner.over_mcp import McpCodeRunner  # the MCP client only where it is used

        token = settings.mcp_token.get_secret_value() if settings.mcp_token else None
        return McpCodeRunner(settings.runner_url, token)
    return LocalCodeRunner(sandbox_runner(settings), catalog.challenge)
