"""The live-coding mock (`--format live-coding`, Telegram /livecoding, MCP format="live-coding"),
and fenced code answers on every front-end, all against the real sandbox."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from telegram import Update

from agent.catalog import Catalog
from agent.config import Settings
from agent.planner import plan_slots
from agent.service import SessionService
from bots.telegram.bot import build_application
from bots.telegram.fake_api import FakeBotAPI
from mcp_server.server import build_server

ROOT = Path(__file__).resolve().parent.parent
BANK = Catalog.load()
LIVE = BANK.format("live-coding")
PROBLEMS = ["stop-sequences", "rank-fusion", "llm-retry", "classification-report"]
ADA = 501


def problem_minutes() -> list[int]:
    """Each problem's budget: its plan step plus its code step."""
    budgets = [s.time_budget_s for s in LIVE.sections]
    return [round((budgets[i] + budgets[i + 1]) / 60) for i in range(0, len(budgets), 2)]


def test_the_format_runs_four_new_problems_of_rising_size_with_their_budgets() -> None:
    slots = plan_slots(LIVE, None)
    questions = [BANK.question(s["question"]) for s in slots]
    assert [q.kind for q in questions] == ["concept", "coding"] * 4
    assert [q.challenge for q in questions] == [c for c in PROBLEMS for _ in (0, 1)]
    assert problem_minutes() == [10, 20, 25, 30] and LIVE.clock
    assert {s["clock_s"] for s in slots} == {85 * 60}
    for challenge_id in PROBLEMS:
        c = BANK.challenge(challenge_id)
        assert c.complexity and c.discussion and c.looks_for and c.common_mistakes and c.naive_wrong_solution
        assert len([case for case in c.cases if not case.visible]) >= 8
        imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(c.reference_solution))
                    if isinstance(node, ast.Import | ast.ImportFrom)
                    for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
        assert imported <= set(sys.stdlib_module_names), c.id  # plain Python, standard library only


def test_plan_questions_are_asked_only_by_the_format_that_names_them() -> None:
    from agent.planner import candidates

    concept_pool = candidates(BANK, {"topic": "coding", "kinds": ["concept", "rapid_fire"]})
    assert not [q for q in concept_pool if q.id.endswith(".plan")]


def fenced(code: str) -> str:
    """As a candidate types it, and as one piped answer: prose on the fence lines."""
    return f"Here is my code: ```python\n{code.rstrip()}\n``` and that is all."


def coach_cli(*args: str, stdin: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args], input=stdin, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.slow
def test_coach_interview_format_live_coding_runs_all_four_offline_in_the_sandbox() -> None:
    plans = [
        "For each non-empty stop I find its earliest position and cut there, otherwise I return length.",
        "I add 1/(c + rank) per document in a dict, counting the first position only, then sort by score and id.",
        "I retry 429 and 5xx with capped exponential backoff, honour retry-after, and stop at once on a 400.",
        "I count tp, fp and fn per label with zero guards, and average F1 over the union of labels.",
    ]
    lines: list[str] = []
    for n, (plan, challenge_id) in enumerate(zip(plans, PROBLEMS, strict=True)):
        lines.append(plan)
        challenge = BANK.challenge(challenge_id)
        if n == 1:  # one failing submission on problem 2, then the fix
            lines.append(fenced(challenge.naive_wrong_solution))
        lines.append(fenced(challenge.reference_solution))
    out = coach_cli("interview", "--offline", "--format", "live-coding", stdin="\n".join(lines) + "\n")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "SyntaxError" not in text
    assert text.count("Clock:") == 8 and "min left of 85" in text
    for minutes in (1, 9, 2, 18, 23, 28):
        assert f"this step: {minutes} min" in text
    assert "Submission 1 of 3" in text and "passed on submission 2" in text
    assert text.count("passed on submission 1") == 3
    assert text.count("Your plan:") == 4 and text.count("Reference approach:") == 4
    assert "The interviewer looks for:" in text and "Common mistakes:" in text
    assert "graded by tests" in text and "Report · session" in text
    assert "input ended before the interview did" not in text


@pytest.mark.slow
def test_three_piped_submissions_through_the_cli(tmp_path: Path) -> None:
    import yaml

    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    (bank_dir / "coding.yaml").write_text(yaml.safe_dump([BANK.question("coding.merge_intervals").model_dump(mode="json")]))
    challenge = BANK.challenge("merge-intervals")
    stdin = "\n".join([fenced(challenge.naive_wrong_solution), fenced("def merge_intervals(intervals):\n    return []"),
                       fenced(challenge.reference_solution)]) + "\n"
    out = coach_cli("interview", "--offline", "--format", "code", stdin=stdin, env={"COACH_BANK_DIR": str(bank_dir)})
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, out.stderr
    assert "Submission 1 of 3" in text and "Submission 2 of 3" in text and "1 submission left" in text
    assert "expected [[1, 6], [8, 10]], got []" in text  # the first failing visible case, shown
    assert "score 65%" in text and "passed on submission 3" in text and "Reference solution:" in text


# --- Telegram: the real PTB stack over the in-memory Bot API -------------------------------------


async def _chat(coach: SessionService):
    api = FakeBotAPI()
    app = build_application(coach, token="123:test", request=api, rate_limit=False)
    errors: list[BaseException] = []

    async def record(update, context) -> None:
        errors.append(context.error)

    app.add_error_handler(record)
    return app, api, errors


async def _say(app, api: FakeBotAPI, text: str, entities: list[dict] | None = None) -> list[str]:
    before = len(api.sent)
    update = api.text_update(ADA, text)
    if entities:
        update["message"]["entities"] = entities
    await app.process_update(Update.de_json(update, app.bot))
    return [s.text for s in api.sent[before:] if s.method == "sendMessage"]


@pytest.mark.anyio
async def test_telegram_livecoding_and_fenced_code(settings: Settings) -> None:
    async with SessionService.open(settings, offline=True, catalog=BANK) as coach:
        app, api, errors = await _chat(coach)
        async with app:
            [intro, first] = await _say(app, api, "/livecoding")  # the multi-section intro, then the question
            assert intro.startswith("Live-coding mock: 8 sections")
            assert "Clock: 0 min elapsed" in first and "say your plan in two sentences" in first
            assert "Question 1/8" in first and "Cut a completion at its stop sequences" in first
            replies = await _say(app, api, "I find each stop's earliest index and cut at the smallest one.")
            assert replies[0].startswith("<b>Score") and "this step: 9 min" in replies[-1]
            stop = BANK.challenge("stop-sequences")
            # Backticks typed into the text (a client that leaves them, or a paste).
            replies = await _say(app, api, fenced(stop.naive_wrong_solution))
            assert any("Submission 1 of 3" in r for r in replies)
            # A client that turned the fence into a `pre` entity and dropped the backticks.
            prose = "Fixed it: "
            code = stop.reference_solution.rstrip()
            entity = {"type": "pre", "offset": len(prose.encode("utf-16-le")) // 2,
                      "length": len(code.encode("utf-16-le")) // 2, "language": "python"}
            replies = await _say(app, api, prose + code + "\nLinear in the text.", [entity])
    assert errors == []
    assert replies[0].startswith("<b>Score 80%</b>") and "SyntaxError" not in replies[0]
    assert "Reference approach:" in replies[0] and "Your plan:" in replies[0]


# --- MCP: a real client in memory -----------------------------------------------------------------


@pytest.mark.anyio
async def test_mcp_start_interview_live_coding_and_a_fenced_answer(coach_home: Path) -> None:
    server = build_server(Settings(), user="ada", offline=True)
    async with Client(server, raise_exceptions=True) as client:
        step = (await client.call_tool("start_interview", {"format": "live-coding"})).structured_content
        sid = step["session_id"]
        text = step["prompt"]["text"]
        assert text.startswith("Live-coding problem 1 of 4") and text.endswith("this step: 1 min.")
        assert "Clock: 0 min elapsed, 85 min left of 85" in text and step["prompt"]["total"] == 8
        step = (await client.call_tool("answer", {"session_id": sid, "answer": "Earliest index over all stops."}))
        step = step.structured_content
        assert step["prompt"]["kind"] == "coding"
        code = fenced(BANK.challenge("stop-sequences").reference_solution)
        step = (await client.call_tool("answer", {"session_id": sid, "answer": code})).structured_content
        [graded] = step["graded"]
        assert graded["grade"]["score"] == 1.0 and graded["grade"]["grader"] == "tests"
        assert step["prompt"]["question_id"] == "live.rank_fusion.plan"
        run = (await client.call_tool("run_code", {"code": code, "challenge_id": "stop-sequences"})).structured_content
        assert run["status"] == "passed"


def test_piped_and_typed_readers_keep_a_fenced_answer_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from bots.terminal import read_answers

    piped = "my plan\nHere: ```python\ndef f():\n\n    return 1\n``` done\n/skip\n```\nunclosed"
    monkeypatch.setattr("sys.stdin", io.StringIO(piped))
    with open(os.devnull, "w") as devnull:
        answers = list(read_answers(Console(file=devnull), interactive=False))
    assert answers == ["my plan", "Here: ```python\ndef f():\n\n    return 1\n``` done", "/skip", "```\nunclosed"]

    typed = iter(["Here it is: ```python", "def f():", "", "    return 1", "``` linear", "/skip"])

    def fake_input(_prompt: str = "") -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    with open(os.devnull, "w") as devnull:
        answers = list(read_answers(Console(file=devnull), interactive=True))
    assert answers == ["def f():\n\n    return 1", "/skip"]
