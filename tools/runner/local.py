"""The runner in this process, for async callers such as the interview graph."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tools.runner import CodeRunner, RunResult
from tools.runner.cases import Challenge


class LocalCodeRunner:
    """Runs jobs in a worker thread so the event loop keeps serving other candidates."""

    def __init__(self, runner: CodeRunner, challenge_of: Callable[[str], Challenge]) -> None:
        self.runner = runner
        self._challenge_of = challenge_of

    async def run_challenge(self, code: str, challenge_id: str) -> RunResult:
        challenge = self._challenge_of(challenge_id)
        return await asyncio.to_thread(self.runner.run_challenge, code, challenge)

    async def run_tests(self, code: str, tests: str, entry_point: str | None = None) -> RunResult:
        return await asyncio.to_thread(self.runner.run_tests, code, tests, entry_point)

    def close(self) -> None:
        self.runner.close()
