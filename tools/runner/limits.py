"""Resource limits of one sandboxed job (configurable; defaults from the design)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SandboxLimits(BaseModel):
    cpu_seconds: int = Field(default=2, ge=1, le=60)
    memory_mib: int = Field(default=512, ge=64, le=8192)
    """Address-space limit (RLIMIT_AS) inside the sandbox."""
    processes: int = Field(default=64, ge=1, le=4096)
    file_size_mib: int = Field(default=16, ge=1, le=1024)
    open_files: int = Field(default=64, ge=16, le=4096)
    wall_seconds: float = Field(default=5.0, gt=0, le=120)
    output_bytes: int = Field(default=64 * 1024, ge=1024)
    """Cap on stdout and on stderr, each; past it the job is killed."""
    tmpfs_mib: int = Field(default=32, ge=1, le=1024)
    """Size of the writable work directory (/tmp inside)."""
    shm_mib: int = Field(default=1, ge=1, le=256)


MAX_CODE_CHARS = 200_000
MAX_TESTS_CHARS = 200_000
"""The runner's own backstops; front-ends check their (smaller, configurable) limits first."""


class CodeRejected(ValueError):
    """The code or the tests were not run: empty or over the size limit. The message says what
    to do instead."""


def check_code(code: str, max_chars: int) -> str:
    """Code as it will be run, or CodeRejected saying what to do instead."""
    if not code.strip():
        raise CodeRejected("There is no code to run: send the function or class you wrote.")
    if len(code) > max_chars:
        raise CodeRejected(
            f"Your code is {len(code):,} characters; the limit is {max_chars:,}. "
            "Send only the solution, not data or generated files."
        )
    return code


def check_tests(tests: str, max_chars: int) -> str:
    """Test code as it will be run, or CodeRejected saying what to do instead."""
    if not tests.strip():
        raise CodeRejected("There are no tests to run: send asserts, test_* functions or a check(candidate) function.")
    if len(tests) > max_chars:
        raise CodeRejected(
            f"Your tests are {len(tests):,} characters; the limit is {max_chars:,}. "
            "Keep the asserts and build large inputs inside the tests instead of pasting them."
        )
    return tests
