"""`coach progress` and `coach usage`: weak topics, due reviews, a chart; model spend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape as _markup_escape
from rich.table import Table

from bots.app import app, console, load_settings, user_errors, user_name, with_coach, write_user_file
from bots.safe_text import terminal_text


def escape(text: str) -> str:
    """Stored text for the console: no control sequences, no rich markup."""
    return _markup_escape(terminal_text(text))


@app.command()
@user_errors
def progress(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose progress.")] = None,
    chart: Annotated[Path | None, typer.Option(help="Where to write the PNG chart (default: COACH_HOME).")] = None,
    calibration_chart: Annotated[Path | None, typer.Option(
        help="Where to write the calibration PNG (default: COACH_HOME, when answers were self-rated).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the progress as JSON (no charts).")] = False,
) -> None:
    """Weak topics (with why), reviews due and ahead, calibration, and PNG charts."""
    from bots.charts import calibration_png, progress_png

    settings = load_settings()
    who = user_name(user, settings)
    report = with_coach(lambda coach: coach.progress(who), settings=settings)
    if as_json:
        console.out(report.model_dump_json(indent=2), highlight=False)
        return
    if not report.history:
        console.print(f"{escape(who)} has no graded answers yet: `coach interview` starts one.")
        return
    table = Table("weak topic", "mastery", "answers", "why", title=f"Weak topics · {escape(who)}")
    for w in report.weak_topics:
        table.add_row(escape(w.topic), f"{w.mastery:.0%}", str(w.evidence), escape(w.reason))
    console.print(table if report.weak_topics else "No weak topics: every topic is at 60% or better.")
    if report.due:
        due = Table("question", "topic", "due since", title="Reviews due")
        for d in report.due[:15]:
            due.add_row(escape(d.question_id), escape(d.topic), d.due.strftime("%Y-%m-%d %H:%M"))
        console.print(due)
    if report.upcoming:
        ahead = Table("question", "topic", "next review", title="Missed questions: next reviews")
        for d in report.upcoming[:15]:
            ahead.add_row(escape(d.question_id), escape(d.topic), d.due.strftime("%Y-%m-%d %H:%M"))
        console.print(ahead)
    if report.calibration:
        cal = Table("topic", "rated answers", "bias", "verdict", "over / matched / under",
                    title="Calibration: your self-rating against the grade (bias > 0: overconfident)")
        for topic, c in report.calibration.items():
            cal.add_row(escape(topic), str(c.n), f"{c.bias:+.2f}", c.verdict, f"{c.over} / {c.matched} / {c.under}")
        console.print(cal)
    path = chart or settings.home_dir / f"progress-{who}.png"
    write_user_file(path, progress_png(report))
    console.print(f"chart: {escape(str(path))}")
    if report.calibration:
        cal_path = calibration_chart or settings.home_dir / f"calibration-{who}.png"
        write_user_file(cal_path, calibration_png(report))
        console.print(f"calibration chart: {escape(str(cal_path))}")


@app.command()
@user_errors
def usage(user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user.")] = None) -> None:
    """Model spend by user and day, from the cost ledger."""
    who = None if user is None else user_name(user, load_settings())
    rows = with_coach(lambda coach: coach.usage(who))
    if not rows:
        console.print("No model calls recorded: the offline coach costs nothing.")
        return
    table = Table("day", "user", "calls", "input tokens", "output tokens", "cost (USD)", title="Model usage")
    for r in rows:
        table.add_row(r.day, escape(r.user), str(r.calls), f"{r.input_tokens:,}", f"{r.output_tokens:,}",
                      f"{r.cost_usd:.4f}")
    console.print(table)
