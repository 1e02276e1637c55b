"""A coding challenge and its test cases: what the runner needs to judge a submission.

The runner's own vocabulary, so `tools/runner` stands alone; `agent.domain` re-exports these
types for the rest of the coach.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]
Difficulty = Annotated[int, Field(ge=1, le=3)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CallCase(_Frozen):
    """Call the entry point with these arguments; the result must equal `expected`."""

    name: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    raises: str | None = None
    """Name of the exception type the call must raise instead of returning."""
    visible: bool = False


class Operation(_Frozen):
    """One step of a class-design case: `method(*args)` on the instance, compared with expected."""

    method: str
    args: tuple[Any, ...] = ()
    expected: Any = None


class OpsCase(_Frozen):
    """LeetCode-style design case: construct the class, then apply operations in order."""

    name: str = ""
    init_args: tuple[Any, ...] = ()
    ops: tuple[Operation, ...] = Field(min_length=1)
    visible: bool = False


class Challenge(_Frozen):
    id: Slug
    title: str
    topic: Slug = "coding"
    difficulty: Difficulty = 2
    statement: str
    entry_point: str
    """Function or class name the candidate defines."""
    kind: Literal["function", "class"] = "function"
    starter: str
    time_budget_min: int = Field(default=15, ge=1, le=90)
    reference_solution: str
    naive_wrong_solution: str = ""
    cases: tuple[CallCase | OpsCase, ...] = Field(min_length=1)
    looks_for: tuple[str, ...] = ()
    common_mistakes: tuple[str, ...] = ()
    follow_ups: tuple[str, ...] = ()
    complexity: str = ""
    """Time and space of the reference solution, e.g. "O(n log n) time, O(n) space"."""
    discussion: str = ""
    """The reference approach in a few sentences: what the interviewer walks through afterwards."""
    float_tolerance: float | None = None

    @property
    def visible_cases(self) -> tuple[CallCase | OpsCase, ...]:
        return tuple(c for c in self.cases if c.visible)
