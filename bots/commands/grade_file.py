"""`coach grade-file FILE.jsonl [--json]`: grade labelled answers and report agreement with humans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from agent.errors import CoachError
from bots.app import app, console, user_errors


def _question(n: int, record: dict):
    from agent.domain import KeyPoint, Question
    from agent.grading.offline import key_points_from_reference

    raw = record.get("key_points")
    if raw:
        points = tuple(KeyPoint(id=f"k{i}", text=p) if isinstance(p, str) else KeyPoint.model_validate(p)
                       for i, p in enumerate(raw, 1))
    else:
        points = key_points_from_reference(record.get("reference_answer") or "")
    if not points:
        raise CoachError(f"line {n}: give key_points or a reference_answer")
    return Question(id=f"record{n}", topic="file", prompt=str(record.get("question") or "(no question)"),
                    key_points=points, model_answer=record.get("reference_answer") or "; ".join(p.text for p in points))


@app.command("grade-file")
@user_errors
def grade_file(
    file: Annotated[Path, typer.Argument(help="JSON lines: question, reference_answer and/or key_points, answer, human_score?")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines out, then a summary line.")] = False,
) -> None:
    """Grade every record offline; with human scores, report Pearson, Spearman, RMSE and QWK."""
    from agent.grading.offline import OfflineGrader
    from evals.metrics import agreement

    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CoachError(f"{file} does not exist") from None
    grader = OfflineGrader()
    rows, scores, human = [], [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise CoachError(f"line {n} of {file} is not valid JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("answer"), str):
            raise CoachError(f"line {n}: each record needs an \"answer\" string")
        try:
            grade = grader.grade(_question(n, record), record["answer"])
        except ValidationError as err:
            raise CoachError(f"line {n}: {err.errors()[0]['msg']}") from None
        row = {"line": n, "score": grade.score, "rating": grade.rating,
               "verdicts": {v.key_point: v.verdict for v in grade.verdicts}}
        if isinstance(record.get("human_score"), int | float):
            row["human_score"] = record["human_score"]
            scores.append(grade.score)
            human.append(float(record["human_score"]))
        rows.append(row)
    summary = agreement(scores, human) if len(scores) >= 2 else None
    if as_json:
        for row in rows:
            print(json.dumps(row))
        if summary:
            print(json.dumps({"summary": summary}))
        return
    table = Table("line", "score", "rating", "human")
    for row in rows:
        table.add_row(str(row["line"]), f"{row['score']:.2f}", str(row["rating"]), str(row.get("human_score", "")))
    console.print(table)
    if summary:
        console.print(" · ".join(f"{k} {v}" for k, v in summary.items()))
