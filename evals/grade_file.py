"""`coach grade-file`: grade a file of labelled answers offline and measure agreement with people.

A record that cannot be graded is reported with its line number and the rest are graded; the
caller decides what an empty result means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.grading.reference import grade_free_text
from evals.metrics import agreement
from evals.records import read_records


@dataclass
class GradeFileReport:
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One per graded record: line, id/dataset/split where given, score, rating, verdicts, human_score."""
    problems: list[str] = field(default_factory=list)
    """One per record that could not be graded, naming its line."""
    summary: dict[str, Any] | None = None
    """Pearson, Spearman, RMSE and QWK against the human scores, where at least two are present."""


def grade_file(path: Path, alternates: bool = False) -> GradeFileReport:
    """Grade every record of a JSON-lines file; `alternates` lets a record's other references count."""
    records, problems = read_records(path)
    report = GradeFileReport(problems=problems)
    scores, human = [], []
    for r in records:
        grade = grade_free_text(r.answer, question=r.question, reference=r.reference, key_points=r.key_points,
                                alternates=r.alternates if alternates else ())
        row = {"line": r.line, **r.meta, "score": grade.score, "rating": grade.rating, "verdicts": grade.verdicts}
        if r.human_score is not None:
            row["human_score"] = r.human_score
            scores.append(grade.score)
            human.append(r.human_score)
        report.rows.append(row)
    if len(scores) >= 2:
        report.summary = agreement(scores, human)
    return report
