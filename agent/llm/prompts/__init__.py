"""The model's instructions, as versioned files: a grade records which prompt produced it.

Change a prompt by adding `NAME-vN+1.md` and pointing the constant at it; old transcripts keep
naming the version that graded them, so `coach replay --regrade` can show what the change did.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PromptFile:
    name: str
    version: int

    @property
    def id(self) -> str:
        return f"{self.name}-v{self.version}"

    @cached_property
    def text(self) -> str:
        return (HERE / f"{self.id}.md").read_text(encoding="utf-8").strip()


GRADER = PromptFile("grader", 1)
INTERVIEWER = PromptFile("interviewer", 1)
