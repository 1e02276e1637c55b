"""`coach sessions`, `coach replay`, `coach export`, `coach import`: graded transcripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape as _markup_escape
from rich.table import Table

from agent.errors import CoachError
from bots.app import app, console, load_settings, read_user_file, user_errors, user_name, with_coach, write_user_file
from bots.safe_text import terminal_text

FORMATS = ("text", "md", "html", "json")


def escape(text: str) -> str:
    """Stored text for the console: no control sequences, no rich markup."""
    return _markup_escape(terminal_text(text))


@app.command()
@user_errors
def sessions(user: Annotated[str | None, typer.Option("--user", "-u", help="Whose sessions.")] = None) -> None:
    """Your sessions: date, format, topics, questions, score, cost."""
    settings = load_settings()
    who = user_name(user, settings)
    rows = with_coach(lambda coach: coach.sessions(who), settings=settings)
    # Fits 80 columns: fixed-width columns never wrap, no vertical rules, the topics column takes
    # what is left and wraps (a table squeezed by rich would cut dates and ids to "2026-…").
    table = Table(title=f"Sessions · {escape(who)}", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    for name, justify in (("started (UTC)", "left"), ("format", "left"), ("topics", "left"), ("qs", "right"),
                          ("status", "left"), ("score", "right"), ("cost", "right"), ("session", "left")):
        table.add_column(name, justify=justify, no_wrap=name != "topics", overflow="fold",
                         ratio=1 if name == "topics" else None)
    for r in rows:
        table.add_row(f"{r.started_at:%Y-%m-%d %H:%M}", escape(r.format), escape(", ".join(r.topics) or "mixed"),
                      str(r.questions), escape(r.status), "n/a" if r.score is None else f"{r.score:.0%}",
                      f"${r.cost_usd:.4f}", escape(r.session_id))
    console.print(table if rows else f"{escape(who)} has no sessions yet: `coach interview` starts one.")


@app.command()
@user_errors
def replay(
    session: Annotated[str, typer.Argument(help="The session id (see `coach sessions`).")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose session.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md, html or json.")] = "text",
    step: Annotated[bool, typer.Option("--step", help="Wait for Enter between steps (on a terminal).")] = False,
    regrade: Annotated[bool, typer.Option("--regrade", help="Re-grade every answer with today's grader.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Re-grade with the offline grader.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the export to this file.")] = None,
) -> None:
    """Replay a graded session step by step, export it, or re-grade it with today's grader."""
    from bots.render_transcript import RENDERERS, header_lines, question_numbers, question_total, step_lines

    if fmt not in FORMATS:
        raise CoachError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    settings = load_settings()
    given = None if user is None else user_name(user, settings)

    def owner(coach) -> str:
        """--user, or whoever owns the session on this machine (a terminal user sees every local user's
        files anyway), else the configured user, whose NotFound names the next step."""
        return given or coach.session_owner(session) or settings.default_user

    if regrade:
        _show_regrade(settings, session, owner, offline)
        return
    transcript = with_coach(lambda coach: coach.transcript(session, owner(coach)), settings=settings)
    if fmt != "text" or out is not None:
        rendered = RENDERERS[fmt](transcript)
        if out is not None:
            write_user_file(out, rendered)
            console.print(f"wrote {escape(str(out))}")
        else:
            sys.stdout.write(rendered)
        return
    interactive = step and sys.stdin.isatty() and sys.stdout.isatty()
    console.print("\n".join(escape(line) for line in header_lines(transcript)), style="bold")
    numbers, total = question_numbers(transcript), question_total(transcript)
    for s in transcript.steps:
        if interactive:
            input("— Enter for the next step —")
        console.rule()
        console.print("\n".join(escape(line) for line in step_lines(s, numbers, total)))


def _show_regrade(settings, session: str, owner, offline: bool) -> None:
    async def regrade(coach):
        return coach.engine, await coach.regrade(session, owner(coach))

    engine, rows = with_coach(regrade, offline=True if offline else None, settings=settings)
    table = Table("#", "question", "old", "new", "graded by (old → new)", "verdicts that changed",
                  title=f"Re-graded session {escape(session)}")
    for r in rows:
        changes = "; ".join(f"{kp}: {a} → {b}" for kp, a, b in r.changed) or "none"
        table.add_row(str(r.seq), escape(r.question_id), f"{r.old_score:.0%}", f"{r.new_score:.0%}",
                      escape(f"{r.old_grader} → {r.new_grader}"), escape(changes))
    console.print(table if rows else "No answered spoken questions to re-grade.")
    console.print(_which_grader(engine, offline, settings.has_api_key))


def _which_grader(engine: str, offline: bool, has_key: bool) -> str:
    if engine != "offline":
        return f"regraded with {escape(engine)}"
    why = "--offline" if offline else "the model was not available" if has_key else "no ANTHROPIC_API_KEY"
    return f"regraded with the offline grader ({why})"


@app.command("export")
@user_errors
def export_cmd(
    user: Annotated[str, typer.Option("--user", "-u", help="Whose sessions to back up.")],
    out: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
) -> None:
    """Back up every session of a user as JSON (transcripts, grades, usage)."""
    who = user_name(user, load_settings())
    backup = with_coach(lambda coach: coach.export(who))
    data = json.dumps(backup.model_dump(mode="json"), indent=1, sort_keys=True)
    if out is None:
        sys.stdout.write(data + "\n")
    else:
        write_user_file(out, data + "\n")
        console.print(f"wrote {escape(str(out))}")


@app.command("import")
@user_errors
def import_cmd(file: Annotated[Path, typer.Argument(help="A backup made by `coach export`.")]) -> None:
    """Restore a backup; sessions that already exist are skipped."""
    from pydantic import ValidationError

    from agent.service import Backup

    text = read_user_file(file, "backup file")
    try:
        backup = Backup.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CoachError(f"{file} is not a coach backup: {where + ': ' if where else ''}{first['msg']}; "
                         "give a file written by `coach export`") from None
    user_name(backup.user, load_settings(), what=f"user in {file}")  # a backup cannot bring in a bad name
    restored, skipped = with_coach(lambda coach: coach.import_backup(backup))
    console.print(f"restored {restored} session(s) for {escape(backup.user)}; skipped {skipped} already present")
