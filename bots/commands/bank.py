"""`coach bank validate` and `coach bank stats`: the question bank's health and shape."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bots.app import app, console, err_console, load_settings, user_errors

bank_app = typer.Typer(help="Check and describe the question bank.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")


@bank_app.command()
@user_errors
def validate(
    skip_challenges: Annotated[bool, typer.Option("--skip-challenges", help="Do not run the challenges.")] = False,
) -> None:
    """Schema, unique ids, follow-ups tied to key points, rubrics, and every challenge runnable."""
    from agent.service import check_bank

    problems = check_bank(load_settings(), run_challenges=not skip_challenges)
    for problem in problems:
        err_console.print(f"[red]✗[/] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print("[green]the bank is valid[/]")


@bank_app.command()
@user_errors
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Counts by topic, kind and difficulty, and the number of coding challenges."""
    from agent.service import open_catalog

    bank = open_catalog(load_settings())
    questions = bank.questions()
    challenges = bank.challenges
    data = {
        "questions": len(questions),
        "topics": len(bank.topics()),
        "by_topic": bank.topics(),
        "by_kind": dict(sorted(Counter(q.kind for q in questions).items())),
        "by_difficulty": {str(k): v for k, v in sorted(Counter(q.difficulty for q in questions).items())},
        "challenges": len(challenges),
        "challenges_by_difficulty": {str(k): v for k, v in sorted(Counter(c.difficulty for c in challenges.values()).items())},
        "formats": sorted(bank.formats),
    }
    if as_json:
        print(json.dumps(data))
        return
    console.print(f"[bold]{data['questions']} questions · {data['topics']} topics · {data['challenges']} coding "
                  f"challenges · formats: {escape(', '.join(data['formats']))}[/]")
    console.print(_counts("topic", data["by_topic"]))
    console.print(_counts("kind", data["by_kind"]))
    console.print(_counts("difficulty", data["by_difficulty"]))
    if data["challenges_by_difficulty"]:
        console.print(_counts("challenge difficulty", data["challenges_by_difficulty"]))


def _counts(what: str, counts: dict[str, int]) -> Table:
    """One count per row, with its share: readable at 80 columns however many rows there are."""
    total = sum(counts.values()) or 1
    table = Table(what, "count", "share", title=f"by {what}", title_justify="left")
    for key, count in counts.items():
        table.add_row(escape(str(key)), str(count), f"{count / total:.0%}")
    return table
