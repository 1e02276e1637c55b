"""The code stays clean: lint, one-way layers and strict types, checked by the same command as
every other test (so CI and a contributor's `pytest` run them alike)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def check(*command: str) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"


def test_ruff_is_clean() -> None:
    check(sys.executable, "-m", "ruff", "check", ".")


def test_imports_flow_one_way_without_cycles() -> None:
    """The import-linter contracts in pyproject.toml: layers, front-ends through the service, the
    runner standing alone, no circle of modules."""
    check(str(BIN / "lint-imports"), "--no-cache")


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    check(sys.executable, "-m", "mypy")
