"""The code runner: untrusted Python in a bubblewrap sandbox, judged outside it.

    runner = CodeRunner()                          # fails closed without bubblewrap
    result = runner.run_challenge(code, load_challenge("two-sum"))
    result = runner.run_tests(code, test_code)     # assert-style tests, HumanEval check() files
    result.status, [t.passed for t in result.tests]
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from agent.domain import CallCase, Challenge, OpsCase
from agent.errors import ConfigError, NotFound
from tools.runner.judge import challenge_job, tests_job, verdict
from tools.runner.limits import SandboxLimits
from tools.runner.result import RunResult, Status, TestRecord
from tools.runner.sandbox import Sandbox, SandboxUnavailable
from tools.runner.warm import WarmPool

__all__ = ["CodeRunner", "RunResult", "SandboxLimits", "Status", "TestRecord", "load_challenge", "load_challenges"]

CHALLENGES_DIR = Path(__file__).resolve().parent.parent / "bank" / "challenges"


class CodeRunner:
    def __init__(self, limits: SandboxLimits | None = None, allow_unsafe: bool | None = None,
                 bwrap: str | None = None, warm_workers: int = 0) -> None:
        """`warm_workers` > 0 keeps that many warm sandboxes (tools/runner/warm.py) for a
        long-lived runner (settings: COACH_RUNNER_WARM); 0 starts a fresh sandbox per job."""
        if allow_unsafe is None:
            allow_unsafe = os.environ.get("COACH_UNSAFE_RUNNER") == "1"
        self.sandbox = Sandbox(limits or SandboxLimits(), bwrap=bwrap, unsafe=allow_unsafe)
        self.pool = WarmPool(self.sandbox, size=warm_workers) if warm_workers > 0 and not allow_unsafe else None

    def _run(self, job: dict):
        self.sandbox.check()
        return self.pool.run(job) if self.pool else self.sandbox.run(job)

    def close(self) -> None:
        """Stop the warm sandboxes, if any (they also die with this process)."""
        if self.pool:
            self.pool.close()

    def _unavailable(self, err: SandboxUnavailable) -> RunResult:
        return RunResult(status="unavailable", message=str(err))

    def run_challenge(self, code: str, challenge: Challenge) -> RunResult:
        """Run `code` against every case of the challenge; hidden expectations stay out here."""
        try:
            raw = self._run(challenge_job(code, challenge))
        except SandboxUnavailable as err:
            return self._unavailable(err)
        names, expected, visible, raises = [], [], [], []
        for n, case in enumerate(challenge.cases, 1):
            tag = "example" if case.visible else "hidden"
            names.append(case.name or f"{tag} {n}")
            visible.append(case.visible)
            if isinstance(case, OpsCase):
                expected.append([op.expected for op in case.ops])
                raises.append(None)
            else:
                assert isinstance(case, CallCase)
                expected.append(case.expected)
                raises.append(case.raises)
        return verdict(raw, names, expected, visible, challenge.float_tolerance, raises)

    def run_tests(self, code: str, test_code: str, entry_point: str | None = None) -> RunResult:
        """Run assert-style tests that see the candidate's names as if they followed the code."""
        try:
            raw = self._run(tests_job(code, test_code, entry_point))
        except SandboxUnavailable as err:
            return self._unavailable(err)
        return verdict(raw, [], None, [])

    async def arun_challenge(self, code: str, challenge: Challenge) -> RunResult:
        return await asyncio.to_thread(self.run_challenge, code, challenge)

    async def arun_tests(self, code: str, test_code: str, entry_point: str | None = None) -> RunResult:
        return await asyncio.to_thread(self.run_tests, code, test_code, entry_point)


@lru_cache(maxsize=4)
def load_challenges(directory: Path = CHALLENGES_DIR) -> dict[str, Challenge]:
    challenges: dict[str, Challenge] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                c = Challenge.model_validate(item)
                if c.id in challenges:
                    raise ConfigError(f"challenge id {c.id!r} appears twice")
                challenges[c.id] = c
        except (yaml.YAMLError, ValidationError) as err:
            raise ConfigError(f"challenge file {path.name} is invalid: {err}") from None
    return challenges


def load_challenge(challenge_id: str) -> Challenge:
    challenges = load_challenges()
    if challenge_id not in challenges:
        raise NotFound(f"no challenge {challenge_id!r}; known: {', '.join(sorted(challenges)) or 'none'}")
    return challenges[challenge_id]
