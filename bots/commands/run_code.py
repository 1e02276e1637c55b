"""`coach run-code FILE (--challenge ID | --tests TESTFILE) [--json]`: run code in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.errors import CoachError
from bots.app import app, console, read_user_file, user_errors, with_coach

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow", "memory": "yellow",
                "output_limit": "yellow", "unavailable": "magenta"}


@app.command("run-code")
@user_errors
def run_code(
    file: Annotated[Path, typer.Argument(help="The Python file with your solution.")],
    challenge: Annotated[str | None, typer.Option(help="A challenge id from the bank: its hidden tests.")] = None,
    tests: Annotated[Path | None, typer.Option(help="A file of asserts, test_* functions or check(candidate).")] = None,
    entry: Annotated[str | None, typer.Option(help="The function check(candidate) receives (with --tests).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run your code in the sandbox against a challenge's hidden tests or your own tests."""
    if (challenge is None) == (tests is None):
        raise CoachError("give exactly one of --challenge ID and --tests TESTFILE")
    code = read_user_file(file, "solution file")
    test_code = read_user_file(tests, "test file") if tests is not None else None
    result = with_coach(lambda coach: coach.run_code(code, challenge_id=challenge, tests=test_code, entry_point=entry))
    if as_json:
        print(json.dumps(result.model_dump(mode="json")))
    else:
        table = Table("test", "result", "expected", "got", "error")
        for t in result.tests:
            table.add_row(escape(t.name), "[green]pass[/]" if t.passed else "[red]fail[/]",
                          "" if t.expected is None else escape(json.dumps(t.expected)),
                          "" if t.got is None else escape(json.dumps(t.got)), escape(t.error[:120]))
        if result.tests:
            console.print(table)
        style = STATUS_STYLE[result.status]
        console.print(f"[{style}]{result.status}[/] · {escape(result.message)} · {result.duration_ms:.0f} ms")
        if result.stdout:
            console.print(f"[dim]stdout:[/]\n{escape(result.stdout[:2000])}")
    raise typer.Exit(0 if result.status == "passed" else 1)
