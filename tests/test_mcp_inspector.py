"""The MCP Inspector CLI (npm), a client nobody here wrote, against `python -m mcp_server`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MINI_BANK

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
INSPECTOR_VERSION = "0.15.0"  # the newest that runs on node 20; 2.x needs node >= 22.19
CACHE = Path(os.environ.get("COACH_TEST_CACHE", Path.home() / ".cache" / "coach-tests"))


@pytest.fixture(scope="module")
def inspector() -> Path:
    if not shutil.which("npm"):
        pytest.skip("npm is not installed; the Inspector CLI needs node and npm")
    prefix = CACHE / f"inspector-{INSPECTOR_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "mcp-inspector"
    if not binary.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
             f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}"],
            check=True, capture_output=True, timeout=300,
        )
    return binary


def inspect(binary: Path, home: Path, *args: str) -> dict:
    env = {**os.environ, "COACH_HOME": str(home), "COACH_BANK_DIR": str(MINI_BANK), "PYTHONPATH": str(ROOT),
           "MCP_INSPECTOR_SECRET_STORE": "memory"}
    out = subprocess.run(
        [str(binary), "--cli", sys.executable, "-m", "mcp_server", "--offline", "--user", "ada", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=home.parent,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return json.loads(out.stdout)


def test_inspector_lists_tools_and_runs_an_interview(inspector: Path, coach_home: Path) -> None:
    tools = {t["name"]: t for t in inspect(inspector, coach_home, "--method", "tools/list")["tools"]}
    assert {"start_interview", "answer", "hint", "skip", "end_interview"} <= set(tools)
    assert "outputSchema" in tools["answer"] and "session_id" in tools["answer"]["inputSchema"]["properties"]
    assert tools["list_topics"]["annotations"]["readOnlyHint"] is True
    assert tools["answer"]["annotations"]["readOnlyHint"] is False
    assert "mock" in tools["start_interview"]["inputSchema"]["properties"]["format"]["enum"]
    assert "review_grade" in tools

    started = inspect(inspector, coach_home, "--method", "tools/call", "--tool-name", "start_interview",
                      "--tool-arg", "topic=sql", "--tool-arg", "questions=1")
    step = started["structuredContent"]
    assert step["prompt"]["question_id"] == "sql.index"
    answered = inspect(inspector, coach_home, "--method", "tools/call", "--tool-name", "answer",
                       "--tool-arg", f"session_id={step['session_id']}",
                       "--tool-arg", "answer=Lookups skip the full table scan.")
    assert answered["structuredContent"]["graded"][0]["grade"]["verdicts"][0]["verdict"] == "covered"


def test_inspector_calls_run_code(inspector: Path, coach_home: Path) -> None:
    code = "def merge_intervals(xs):\n    out = []\n    for a, b in sorted(xs):\n        if out and a <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], b)\n        else:\n            out.append([a, b])\n    return out\n"
    called = inspect(inspector, coach_home, "--method", "tools/call", "--tool-name", "run_code",
                     "--tool-arg", f"code={code}", "--tool-arg", "challenge_id=merge-intervals")
    assert called["structuredContent"]["status"] == "passed" and not called.get("isError")
