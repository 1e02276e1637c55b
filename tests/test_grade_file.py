"""`coach grade-file` and the agreement metrics behind it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.grading.offline import key_points_from_reference
from evals.metrics import agreement, pearson, quadratic_weighted_kappa, ranks, rmse_rescaled, spearman
from tests.conftest import FIXTURES
from tests.test_cli import coach


def test_metrics_against_hand_computed_values() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)  # monotone, not linear
    assert quadratic_weighted_kappa([1, 2, 3], [1, 3, 3]) == pytest.approx(0.8)
    assert quadratic_weighted_kappa([0, 1, 2], [0, 1, 2]) == 1.0
    assert rmse_rescaled([0.0, 0.5, 1.0], [0, 2.5, 5]) == pytest.approx(0.0)


def test_key_points_from_a_reference_answer() -> None:
    points = key_points_from_reference("It stores keys and values of earlier tokens. Decoding gets faster; memory grows.")
    assert [p.text for p in points] == ["It stores keys and values of earlier tokens.", "Decoding gets faster", "memory grows."]


def test_grade_file_reports_scores_and_agreement() -> None:
    out = coach("grade-file", str(FIXTURES / "grade_file" / "kv_cache.jsonl"), "--json")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    scores = [r["score"] for r in lines[:4]]
    assert all(0 <= s <= 1 for s in scores)
    assert scores[2] == 0.0 and min(scores[0], scores[3]) > scores[1] > scores[2]  # the human order
    summary = lines[-1]["summary"]
    assert summary["n"] == 4 and summary["graded"] == 4 and summary["skipped"] == 0
    assert {k: summary[k] for k in ("n", "pearson", "spearman", "rmse", "qwk")} == agreement(scores, [5, 3, 0, 5])


@pytest.mark.slow
def test_grade_file_reports_bad_lines_and_grades_the_rest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": "x", "key_points": ["a point here"]}\n{oops\n{"question": "q", "answer": "x"}\n'
                   '{"reference_answer": "push"}\n{"reference_answer": "push", "answer": "pull", "human_score": 0}\n')
    out = coach("grade-file", str(bad), "--json")
    assert out.returncode == 0, out.stderr
    assert "line 2: not valid JSON" in out.stderr
    assert "line 3: give key_points or a reference_answer" in out.stderr
    assert 'line 4: needs a non-empty "answer"' in out.stderr
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["line"] for r in rows[:-1]] == [1, 5] and rows[-1]["summary"]["skipped"] == 3


def test_grade_file_fails_only_when_nothing_could_be_graded(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{oops\n{"question": "q", "answer": "x"}\n')
    out = coach("grade-file", str(bad))
    assert out.returncode != 0 and "nothing in" in out.stderr and "line 1" in out.stderr
    assert coach("grade-file", str(tmp_path / "none.jsonl")).returncode != 0


def test_one_word_reference_and_answer_are_graded(tmp_path: Path) -> None:
    data = tmp_path / "short.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"question": "Which way does the force act?", "reference_answer": "push", "answer": "push", "human_score": 1},
        {"question": "Which way does the force act?", "reference_answer": "push", "answer": "pull", "human_score": 0},
        {"question": "Which way does the force act?", "reference_answer": "push", "answer": "it pushes", "human_score": 1},
    ]) + "\n")
    out = coach("grade-file", str(data), "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert rows[0]["score"] > rows[1]["score"] and rows[2]["score"] > rows[1]["score"]
    assert set(rows[-1]["summary"]) >= {"pearson", "spearman", "rmse", "qwk"}
