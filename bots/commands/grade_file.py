"""`coach grade-file FILE.jsonl [--json]`: grade labelled answers and report agreement with humans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.errors import CoachError
from bots.app import app, console, err_console, user_errors
from bots.safe_text import terminal_text


@app.command("grade-file")
@user_errors
def grade_file(
    file: Annotated[Path, typer.Argument(help="JSON lines: question, reference_answer and/or key_points, answer, human_score?")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines out, then a summary line.")] = False,
    alternates: Annotated[bool, typer.Option(
        "--alternates/--no-alternates",
        help="Also accept a record's reference_answers list (the best one counts).")] = False,
) -> None:
    """Grade every record offline; with human scores, report Pearson, Spearman, RMSE and QWK.

    A record that cannot be graded is reported with its line number and the rest are graded;
    the exit code is non-zero only when nothing could be graded."""
    from evals.grade_file import grade_file as grade_records

    if file.is_dir():
        raise CoachError(f"{file} is a directory; give a JSON-lines file")
    if not file.is_file():
        raise CoachError(f"{file} does not exist")
    try:
        report = grade_records(file, alternates)
    except OSError as err:
        raise CoachError(f"cannot read {file}: {err.strerror or err}") from None
    rows, problems, summary = report.rows, report.problems, report.summary
    for problem in problems:
        err_console.print(f"[yellow]skipped[/] {escape(terminal_text(problem))}", highlight=False)
    if not rows:
        raise CoachError(f"nothing in {file} could be graded")
    if as_json:
        for row in rows:
            print(json.dumps(row))
        print(json.dumps({"summary": {**(summary or {}), "graded": len(rows), "skipped": len(problems)}}))
        return
    table = Table("line", "score", "rating", "human")
    for row in rows:
        table.add_row(str(row["line"]), f"{row['score']:.2f}", str(row["rating"]), str(row.get("human_score", "")))
    console.print(table)
    if summary:
        console.print(" · ".join(f"{k} {v}" for k, v in summary.items()))
    console.print(f"graded {len(rows)}, skipped {len(problems)}")
