"""A coding round as in a real interview: up to three submissions against hidden tests, the first
failing visible case shown between them, then the reference solution and its discussion."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.catalog import Catalog
from agent.config import Limits, Settings
from agent.grading.code import FAILING_CAP, grade_code
from agent.grading.submission import extract_code
from agent.graph import GraphDeps, build_graph
from agent.llm.offline import OfflineLLM
from agent.service import SessionService
from tools.runner import CodeRunner
from tools.runner.local import LocalCodeRunner

pytestmark = pytest.mark.anyio

BANK = Catalog.load()
MERGE = BANK.challenge("merge-intervals")
"""Its naive solution passes both visible examples (sorted input) and fails hidden cases."""


def one_question(question_id: str) -> Catalog:
    """The bundled bank cut down to one coding question, so a `code` round asks exactly it."""
    return Catalog([BANK.question(question_id)])


def fenced(code: str, lang: str = "python") -> str:
    return f"Here is my solution:\n```{lang}\n{code.rstrip()}\n```\nIt sorts first, so O(n log n)."


async def test_code_answers_are_judged_by_hidden_tests_and_stored(settings: Settings) -> None:
    bank = Catalog.load()
    async with SessionService.open(settings.for_local_terminal(), offline=True, catalog=bank) as coach:
        step = await coach.start("kai", fmt="code")
        question = bank.question(step.prompt.question_id)
        challenge = Catalog.load().challenge(question.challenge)
        assert challenge.statement.split()[0] in step.prompt.text and "Starter:" in step.prompt.text
        hidden = [c for c in challenge.cases if not c.visible]
        shown = [c for c in challenge.cases if c.visible]
        assert all(c.model_dump_json() != v.model_dump_json() for c in hidden for v in shown)
        assert all(f"{challenge.entry_point}({', '.join(map(repr, c.args))})" not in step.prompt.text
                   for c in hidden if hasattr(c, "args") and c.args)  # hidden calls are not shown

        # A failing submission no longer ends the question: the candidate gets another go.
        step = await coach.answer(step.session_id, "kai", challenge.naive_wrong_solution)
        assert step.graded == [] and "Submission 1 of 3" in step.notice and not step.finished
        assert step.prompt is not None and step.prompt.question_id == question.id

        again = await coach.start("kai", fmt="code")
        solution = Catalog.load().challenge(bank.question(again.prompt.question_id).challenge).reference_solution
        again = await coach.answer(again.session_id, "kai", solution)
        assert again.graded[0].grade.score == 1.0 and again.graded[0].grade.rating == 4
        stored = coach.store.turns(again.session_id)
    assert stored[0].code_runs[0].status == "passed" and stored[0].answer == solution.strip()


async def test_three_submissions_first_failing_visible_case_then_the_reference(settings: Settings) -> None:
    async with SessionService.open(settings.for_local_terminal(), offline=True,
                                   catalog=one_question("coding.merge_intervals")) as coach:
        step = await coach.start("kai", fmt="code")
        seq = step.prompt.seq
        # Fails a visible example: the notice shows its input, expected and actual output.
        wrong_visible = "def merge_intervals(intervals):\n    return intervals\n"
        step = await coach.answer(step.session_id, "kai", wrong_visible)
        assert step.graded == [] and step.prompt.seq == seq
        assert "Submission 1 of 3" in step.notice and "2 submissions left" in step.notice
        assert "merge_intervals([[1, 3], [2, 6], [8, 10]])" in step.notice
        assert "expected [[1, 6], [8, 10]], got [[1, 3], [2, 6], [8, 10]]" in step.notice
        # Passes the visible examples, fails hidden ones: counted, never shown.
        step = await coach.answer(step.session_id, "kai", MERGE.naive_wrong_solution)
        assert step.graded == [] and "Submission 2 of 3" in step.notice and "1 submission left" in step.notice
        assert "hidden test(s) fail" in step.notice and "First failing example" not in step.notice
        hidden_inputs = [repr(list(c.args[0])) for c in MERGE.cases if not c.visible and c.args[0]]
        assert not any(h in step.notice for h in hidden_inputs)
        assert coach.store.turns(step.session_id) == []  # nothing is closed yet
        # The third submission passes, in a fence with prose around it: 65% credit, "good".
        step = await coach.answer(step.session_id, "kai", fenced(MERGE.reference_solution))
        [turn] = step.graded
    grade = turn.grade
    assert turn.code_runs[-1].status == "passed" and len(turn.code_runs) == 3
    assert [r.status for r in turn.code_runs] == ["failed", "failed", "passed"]
    assert grade.score == pytest.approx(0.65) and grade.rating == 3
    assert "passed on submission 3" in grade.feedback and "Reference solution:" in grade.feedback
    assert MERGE.complexity and f"Complexity: {MERGE.complexity}" in grade.feedback
    assert grade.model_answer == MERGE.reference_solution and step.finished
    assert step.report.to_review == [] or step.report.to_review[0]["model_answer"] == MERGE.reference_solution


async def test_failing_hidden_tests_are_never_rated_above_hard(settings: Settings) -> None:
    async with SessionService.open(settings.for_local_terminal(), offline=True,
                                   catalog=one_question("coding.merge_intervals")) as coach:
        step = await coach.start("kai", fmt="code")
        for _ in range(3):
            step = await coach.answer(step.session_id, "kai", MERGE.naive_wrong_solution)
        [turn] = step.graded
        report = step.report
    run = turn.code_runs[-1]
    assert len(turn.code_runs) == 3 and run.status == "failed" and run.passed / run.total >= 0.6
    assert turn.grade.rating <= 2 and turn.grade.score <= FAILING_CAP
    assert "Reference solution:" in turn.grade.feedback and MERGE.reference_solution.strip() in turn.grade.feedback
    assert "Common mistakes:" in turn.grade.feedback
    [item] = report.to_review
    assert item["model_answer"] == MERGE.reference_solution  # the report shows one, not a pointer


async def test_a_skip_after_a_failing_submission_is_graded_on_it_with_the_reference(settings: Settings) -> None:
    async with SessionService.open(settings.for_local_terminal(), offline=True,
                                   catalog=one_question("coding.merge_intervals")) as coach:
        step = await coach.start("kai", fmt="code")
        step = await coach.answer(step.session_id, "kai", MERGE.naive_wrong_solution)
        step = await coach.skip(step.session_id, "kai")
        [turn] = step.graded
    assert turn.outcome == "skipped" and len(turn.code_runs) == 1
    assert 0 < turn.grade.score <= FAILING_CAP and turn.grade.rating == 2
    assert turn.grade.model_answer == MERGE.reference_solution


@pytest.mark.slow  # every challenge in the real sandbox
def test_every_challenge_reference_passes_its_own_tests_in_the_real_sandbox() -> None:
    runner = CodeRunner()
    challenges = BANK.challenges
    assert len(challenges) >= 46
    failing = {}
    for challenge in challenges.values():
        result = runner.run_challenge(challenge.reference_solution, challenge)
        if result.status != "passed":
            failing[challenge.id] = result.message
        assert challenge.complexity.strip(), f"{challenge.id} has no complexity"
    assert failing == {}


def test_a_failing_run_is_capped_and_credit_falls_with_attempts() -> None:
    question = BANK.question("coding.merge_intervals")
    runner = CodeRunner()
    naive = runner.run_challenge(MERGE.naive_wrong_solution, MERGE)
    assert naive.status == "failed" and naive.passed_count / len(naive.tests) >= 0.6
    grade, _ = grade_code(question, MERGE, MERGE.naive_wrong_solution, naive, attempt=1)
    assert grade.rating == 2 and grade.score <= FAILING_CAP  # was "good" (60-70%) before the cap
    good = runner.run_challenge(MERGE.reference_solution, MERGE)
    scores = [grade_code(question, MERGE, MERGE.reference_solution, good, attempt=n)[0].score for n in (1, 2, 3)]
    assert scores == [1.0, 0.8, 0.65]


@pytest.mark.parametrize("answer", [
    "```python\ndef f(x):\n\n    return x + 1\n```",
    "Sure, here you go:\n\n```\ndef f(x):\n\n    return x + 1\n```\n\nLinear time.",
    "```py\ndef f(x):\n\n    return x + 1",  # never closed
    "def f(x):\n\n    return x + 1\n",
])
def test_fenced_code_is_extracted_once_agent_side(answer: str) -> None:
    assert extract_code(answer).strip() == "def f(x):\n\n    return x + 1"


def test_only_the_python_blocks_of_a_mixed_answer_run() -> None:
    answer = "Output:\n```text\n[1, 2]\n```\nCode:\n```python\ndef g():\n    return 2\n```"
    assert extract_code(answer) == "def g():\n    return 2\n"


async def test_the_graph_allows_three_submissions_then_closes_the_turn() -> None:
    """Graph level: the code runner keeps the turn open on a failing run, and who acted shows it."""
    catalog = one_question("coding.merge_intervals")
    limits = Limits()
    runner = LocalCodeRunner(CodeRunner(), catalog.challenge)
    graph = build_graph(GraphDeps(llm=OfflineLLM(), catalog=catalog, limits=limits,
                                  runner=runner)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "code"}, "recursion_limit": 40}
    plan = [{"question": "coding.merge_intervals", "time_budget_s": 900, "follow_ups": 0}]
    await graph.ainvoke({"session_id": "s", "user": "u", "plan": plan, "position": -1, "seq": 1, "phase": "ask"},
                        config)

    async def submit(code: str) -> tuple[list[str], dict]:
        acted: list[str] = []
        resume = Command(resume={"kind": "answer", "text": code, "at": "2026-01-01T00:00:00+00:00"})
        async for update in graph.astream(resume, config, stream_mode="updates"):
            acted.extend("wait" if k == "__interrupt__" else k for k in update)
        return acted, (await graph.aget_state(config)).values

    for n in (1, 2):
        acted, state = await submit(MERGE.naive_wrong_solution)
        assert acted == ["candidate", "code_runner", "wait"]
        assert not state.get("turns")
        assert len(state["current"].code_runs) == n and f"Submission {n} of 3" in state["notice"]
    acted, state = await submit(MERGE.naive_wrong_solution)
    assert acted[:2] == ["candidate", "code_runner"] and "interviewer" in acted
    [turn] = state["turns"]
    assert len(turn.code_runs) == 3 and turn.grade.rating <= 2 and state["phase"] == "done"
