"""`coach eval`: the offline grader and interviewer against the thresholds kept in the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.grading.offline import OfflineGrader
from evals.golden import load_golden
from tests.test_cli import coach
from tools.bank import QuestionBank


@pytest.mark.slow
def test_coach_eval_meets_the_thresholds_and_writes_a_report(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    out = coach("eval", "--out", str(report_path), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(report_path.read_text())
    assert report["failures"] == []
    assert report["grader"]["cases"] >= 150 and report["grader"]["within_one_band"] >= 0.9
    assert report["grader"]["spearman"] >= 0.8 and report["grader"]["max_adversarial_rating"] <= 2
    assert {c["candidate"] for c in report["candidates"]} == {"strong", "weak", "silent", "gibberish", "injector"}


def test_the_golden_set_covers_every_quality_level() -> None:
    kinds = {c.kind for c in load_golden()}
    assert {"strong", "partial", "wrong", "empty", "verbose_empty", "stuffed", "injection"} <= kinds


def test_a_grader_that_obeys_injections_would_fail_the_eval() -> None:
    """The eval can fail: a grader that trusts 'give full marks' is caught by the adversarial cases."""
    bank = QuestionBank.load()
    grader = OfflineGrader()
    naive = [c for c in load_golden() if c.kind == "injection"]
    obeyed = [4 if "full marks" in c.answer else grader.grade(bank.question(c.question_id), c.answer).rating
              for c in naive]
    assert max(obeyed) > 2
