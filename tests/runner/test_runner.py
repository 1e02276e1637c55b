"""The runner's contract: verdicts, what is shown for visible and hidden cases, failing closed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from agent.catalog import Catalog
from tools.runner import CodeRunner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runner() -> CodeRunner:
    return CodeRunner()


@pytest.mark.slow
def test_every_starter_challenge_reference_passes_and_naive_fails(runner: CodeRunner) -> None:
    challenges = Catalog.load().challenges
    assert len(challenges) >= 3
    for challenge in challenges.values():
        assert len([c for c in challenge.cases if not c.visible]) >= 8, challenge.id
        assert runner.run_challenge(challenge.reference_solution, challenge).status == "passed", challenge.id
        assert runner.run_challenge(challenge.naive_wrong_solution, challenge).status == "failed", challenge.id


def test_expected_values_show_only_for_visible_cases(runner: CodeRunner) -> None:
    result = runner.run_challenge("def merge_intervals(xs):\n    return []\n", Catalog.load().challenge("merge-intervals"))
    assert result.status == "failed"
    visible = [t for t in result.tests if t.name.startswith("example")]
    hidden = [t for t in result.tests if t.name.startswith("hidden")]
    assert visible and all(t.expected is not None and t.got == [] for t in visible)
    assert hidden and all(t.expected is None and t.got is None for t in hidden)


def test_class_design_cases_report_each_return_value(runner: CodeRunner) -> None:
    challenge = Catalog.load().challenge("lru-cache")
    result = runner.run_challenge(challenge.naive_wrong_solution, challenge)
    first = result.tests[0]
    assert first.name == "evicts the least recent" and first.expected == [None, None, 1, None, -1]
    assert first.got == [None, None, 1, None, 2] and not first.passed


def test_assert_style_tests_are_reported_one_by_one(runner: CodeRunner) -> None:
    code = "def add(a, b):\n    return a + b\n"
    tests = "assert add(1, 2) == 3\nassert add(2, 2) == 5, 'two and two'\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
    result = runner.run_tests(code, tests)
    assert [(t.name, t.passed) for t in result.tests] == [
        ("assert at line 1", True), ("assert at line 2", False), ("test_zero", True)]
    assert "two and two" in result.tests[1].error and result.status == "failed"


def test_syntax_errors_and_missing_functions_are_errors(runner: CodeRunner) -> None:
    challenge = Catalog.load().challenge("merge-intervals")
    broken = runner.run_challenge("def merge_intervals(:\n", challenge)
    assert broken.status == "error" and "SyntaxError" in broken.message
    missing = runner.run_challenge("def something_else():\n    pass\n", challenge)
    assert missing.status == "error" and "merge_intervals" in missing.message


def test_fails_closed_without_bubblewrap() -> None:
    result = CodeRunner(bwrap="/nonexistent/bwrap", allow_unsafe=False).run_tests("x = 1\n", "assert x == 1\n")
    assert result.status == "unavailable"
    assert "apt-get install -y bubblewrap" in result.message and "COACH_UNSAFE_RUNNER=1" in result.message


def test_the_unsafe_developer_flag_runs_without_a_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from agent.config import Settings

    monkeypatch.setenv("COACH_UNSAFE_RUNNER", "1")
    settings = Settings(home=tmp_path)  # read once, then handed down: the runner never reads the environment
    result = CodeRunner(bwrap="/nonexistent/bwrap", allow_unsafe=settings.unsafe_runner).run_tests("x = 1\n", "assert x == 1\n")
    assert result.status == "passed"
    monkeypatch.delenv("COACH_UNSAFE_RUNNER")
    assert CodeRunner(bwrap="/nonexistent/bwrap").run_tests("x = 1\n", "assert x == 1\n").status == "unavailable"


def run_code_cli(*args: str) -> tuple[int, str, str]:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "bots.cli", "run-code", *args], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out.returncode, out.stdout, out.stderr


@pytest.mark.slow
def test_run_code_command(tmp_path: Path) -> None:
    solution = tmp_path / "sol.py"
    solution.write_text(Catalog.load().challenge("merge-intervals").reference_solution)
    code, out, _ = run_code_cli(str(solution), "--challenge", "merge-intervals", "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "passed" and len(result["tests"]) == 10
    tests = tmp_path / "tests.py"
    tests.write_text("def check(candidate):\n    assert candidate([[1, 4], [4, 5]]) == [[1, 5]]\n")
    code, out, _ = run_code_cli(str(solution), "--tests", str(tests), "--entry", "merge_intervals", "--json")
    assert code == 0 and json.loads(out)["tests"][0]["name"] == "check(merge_intervals)"
    code, _, err = run_code_cli(str(solution))
    assert code == 2 and "exactly one of --challenge" in err
    code, _, err = run_code_cli(str(tmp_path / "nope.py"), "--challenge", "merge-intervals")
    assert code == 2 and "does not exist" in err
    code, _, err = run_code_cli(str(solution), "--challenge", "no-such")
    assert code == 2 and "no challenge 'no-such'" in err


@pytest.mark.anyio
async def test_the_runner_over_mcp_judges_like_the_local_one() -> None:
    """The client the coach uses for a runner pool (COACH_RUNNER_URL), against the runner's server in memory."""
    from tools.runner.over_mcp import McpCodeRunner, build_runner_server

    catalog = Catalog.load()
    runner = McpCodeRunner(build_runner_server(CodeRunner(), catalog.challenge, max_code_chars=10_000))
    challenge = catalog.challenge("merge-intervals")
    good = await runner.run_challenge(challenge.reference_solution, "merge-intervals")
    assert good.status == "passed" and good.tests and all(t.passed for t in good.tests)
    hidden = [t for t in good.tests if t.expected is None]
    assert hidden, "hidden cases keep their expected values out of the reply"
    wrong = await runner.run_tests("def add(a, b):\n    return a - b\n", "assert add(2, 2) == 4\n")
    assert wrong.status == "failed"
    unknown = await runner.run_challenge("x = 1\n", "no-such-challenge")
    assert unknown.status == "error" and "no-such-challenge" in unknown.message
    too_big = await runner.run_tests("x = 1\n" * 5000, "assert x\n")
    assert too_big.status == "error" and "limit is 10,000" in too_big.message
