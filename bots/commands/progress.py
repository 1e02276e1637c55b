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
) -> None:
    """Weak topics (with why), reviews due, and a PNG chart of scores over time per topic."""
    from bots.charts import progress_png

    settings = load_settings()
    who = user_name(user, settings)
    report = with_coach(lambda coach: coach.progress(who), settings=settings)
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
    path = chart or settings.home_dir / f"progress-{who}.png"
    write_user_file(path, progress_png(report))
    console.print(f"chart: {escape(str(path))}")


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
