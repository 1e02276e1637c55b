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
    assert [r["score"] for r in lines[:4]] == [1.0, 0.3333, 0.0, 1.0]
    summary = lines[-1]["summary"]
    assert summary["n"] == 4 and summary["spearman"] == 1.0 and 0 <= summary["rmse"] < 1
    assert summary == agreement([1.0, 0.3333, 0.0, 1.0], [5, 3, 0, 5])


@pytest.mark.slow
def test_grade_file_bad_input_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": "x", "key_points": ["a point here"]}\n{oops\n')
    out = coach("grade-file", str(bad))
    assert out.returncode == 2 and "line 2" in out.stderr and "not valid JSON" in out.stderr
    bad.write_text('{"question": "q", "answer": "x"}\n')
    out = coach("grade-file", str(bad))
    assert out.returncode == 2 and "line 1: give key_points or a reference_answer" in out.stderr
    assert coach("grade-file", str(tmp_path / "none.jsonl")).returncode == 2
