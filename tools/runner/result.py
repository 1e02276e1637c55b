"""What a run reports: an overall status and one record per test."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["passed", "failed", "error", "timeout", "memory", "output_limit", "unavailable"]


class TestRecord(BaseModel):
    __test__ = False  # not a pytest class

    name: str
    passed: bool
    expected: Any = None
    """Shown only for visible cases; hidden expectations never leave the judge."""
    got: Any = None
    error: str = ""


class RunResult(BaseModel):
    status: Status
    tests: list[TestRecord] = Field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    message: str = ""

    @property
    def passed_count(self) -> int:
        return sum(t.passed for t in self.tests)
