"""The shipped bank: valid, the right shape, and its model answers satisfy their own rubrics."""

from __future__ import annotations

import json
from pathlib import Path

from agent.grading.offline import OfflineGrader
from tests.test_cli import coach
from tools.bank import QuestionBank
from tools.bank.validate import validate_bank


def test_bank_validate_passes_and_stats_report_the_shape() -> None:
    valid = coach("bank", "validate")
    assert valid.returncode == 0 and "the bank is valid" in valid.stdout
    stats = json.loads(coach("bank", "stats", "--json").stdout)
    assert stats["questions"] >= 40 and stats["topics"] >= 6 and stats["challenges"] >= 3
    assert set(stats["by_kind"]) == {"concept", "rapid_fire", "system_design", "behavioural", "coding"}
    assert {"concept", "rapid", "code", "design", "behavioural", "mock"} <= set(stats["formats"])


def test_validate_names_each_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "- id: x.one\n  topic: x\n  prompt: What is one?\n  model_answer: One is a number.\n"
        "  key_points: [{id: a, text: a number}]\n  follow_ups: [{key_point: b, prompt: 'What about b?'}]\n"
        "- id: x.two\n  topic: x\n  prompt: What is two?\n  model_answer: Two is a number.\n"
        "  key_points: [{id: a, text: a number}]\n"
        "- id: x.two\n  topic: x\n  prompt: What is two?\n  model_answer: Two is a number.\n"
        "  key_points: [{id: a, text: a number}]\n  follow_ups: [{key_point: a, prompt: 'Say more?'}]\n"
        "- id: x.three\n  topic: x\n  prompt: Three?\n  model_answer: Three is a number.\n  key_points: []\n")
    problems = validate_bank(tmp_path, run_challenges=False)
    assert any("item 1" in p and "unknown key point 'b'" in p for p in problems)
    assert any("x.two: the id is used 2 times" in p for p in problems)
    assert any("item 4" in p and "key_points" in p for p in problems)


def test_model_answers_cover_their_own_rubrics() -> None:
    grader = OfflineGrader()
    weak = []
    for q in QuestionBank.load().questions():
        if q.kind in ("concept", "rapid_fire", "system_design"):
            score = grader.grade(q, q.model_answer).score
            if score < 0.5:
                weak.append((q.id, score))
    assert weak == [], "a model answer misses its own key points (or the key points are worded oddly)"
