"""The code runner: untrusted Python in a bubblewrap sandbox, judged outside it.

    runner = CodeRunner()                          # fails closed without bubblewrap
    result = runner.run_challenge(code, challenge) # a `tools.runner.cases.Challenge`
    result = runner.run_tests(code, test_code)     # assert-style tests, HumanEval check() files
    result.status, [t.passed for t in result.tests]

The ground floor of the coach: nothing here imports the rest of it. Whoever builds a runner hands
it its limits and the unsafe developer flag (the coach reads both from its settings).

Where what lives: sandbox.py (bubblewrap, the host-wide uid pool, collecting a job's output),
harness.py (inside: the judging process and the candidate's process, and why verdicts are out of
the candidate's reach), judge.py (compares outside), seccomp.py (the system-call filter),
cgroup.py (whole-job memory and process caps, and the fallback without cgroups), warm.py and
zygote.py (warm sandboxes), limits.py (limits and size caps), local.py and over_mcp.py (ports).
"""

from __future__ import annotations

from typing import Any

from tools.runner.cases import CallCase, Challenge, OpsCase
from tools.runner.judge import challenge_job, tests_job, verdict
from tools.runner.limits import MAX_CODE_CHARS, MAX_TESTS_CHARS, CodeRejected, SandboxLimits, check_code, check_tests
from tools.runner.result import RunResult, Status, TestRecord
from tools.runner.sandbox import Sandbox, SandboxUnavailable
from tools.runner.warm import WarmPool

__all__ = ["Challenge", "CodeRejected", "CodeRunner", "RunResult", "SandboxLimits", "Status", "TestRecord",
           "check_code", "check_tests"]


class CodeRunner:
    def __init__(self, limits: SandboxLimits | None = None, allow_unsafe: bool = False,
                 bwrap: str | None = None, warm_workers: int = 0) -> None:
        """`warm_workers` > 0 keeps that many warm sandboxes (tools/runner/warm.py) for a
        long-lived runner; 0 starts a fresh sandbox per job. `allow_unsafe` runs without a
        sandbox when bubblewrap is missing (developer machines only)."""
        self.limits = limits or SandboxLimits()
        self.sandbox = Sandbox(self.limits, bwrap=bwrap, unsafe=allow_unsafe)
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
            check_code(code, MAX_CODE_CHARS)
            raw = self._run(challenge_job(code, challenge))
        except CodeRejected as err:
            return RunResult(status="error", message=str(err))
        except SandboxUnavailable as err:
            return self._unavailable(err)
        names: list[str] = []
        expected: list[Any] = []
        visible: list[bool] = []
        raises: list[str | None] = []
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
        """Run assert-style tests that see the candidate's names as if they followed the code
        (through stand-ins: the tests run in a process of their own, tools/runner/harness.py)."""
        try:
            check_code(code, MAX_CODE_CHARS)
            check_tests(test_code, MAX_TESTS_CHARS)
            raw = self._run(tests_job(code, test_code, entry_point))
        except CodeRejected as err:
            return RunResult(status="error", message=str(err))
        except SandboxUnavailable as err:
            return self._unavailable(err)
        return verdict(raw, [], None, [])
