"""`coach interview`: a mock interview in the terminal."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from agent.errors import CoachError
from bots.app import app, console, engine_choice, load_settings, user_errors, user_name


@app.command()
@user_errors
def interview(
    offline: Annotated[bool, typer.Option("--offline", help="Use the offline interviewer and grader.")] = False,
    online: Annotated[bool, typer.Option("--online", help="Require Claude (needs ANTHROPIC_API_KEY).")] = False,
    topic: Annotated[str | None, typer.Option("--topic", "-t", help="Only ask about this topic.")] = None,
    questions: Annotated[int | None, typer.Option("--questions", "-n", help="How many main questions.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="concept, rapid, code, design, behavioural, mock or live-coding.")] = "concept",
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose practice history this is.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue your latest unfinished session.")] = False,
    session: Annotated[str | None, typer.Option("--session", help="Continue this session id.")] = None,
    self_rate: Annotated[bool | None, typer.Option(
        "--self-rate/--no-self-rate",
        help="Rate each answer 1-3 before its grade (default: on at a terminal; with piped input, "
             "the line after each answer is its rating).")] = None,
) -> None:
    """Hold a mock interview in the terminal."""
    import asyncio

    from agent.service import SessionService
    from bots.countdown import Countdown
    from bots.intro import intro_lines
    from bots.startup import loaded
    from bots.terminal import piped_self_rating, read_answers, run_interview, tty_self_rating

    settings = load_settings().for_local_terminal()
    who = user_name(user, settings)
    interactive = sys.stdin.isatty()
    rating = interactive if self_rate is None else self_rate
    countdown = Countdown(sys.stdout) if interactive and sys.stdout.isatty() else None

    async def go() -> int:
        async with SessionService.open(settings, offline=engine_choice(offline, online)) as coach:
            session_id = session or (coach.latest_active(who) if resume else None)
            if resume and not session_id:
                raise CoachError(f"{who} has no unfinished session; start one with `coach interview`")
            if session_id:
                first = await coach.resume(session_id, who)
                console.print(f"[dim]continuing session {session_id}[/]")
            else:
                first = await coach.start(who, topic=topic, questions=questions, fmt=fmt)
                console.print(f"[dim]session {first.session_id} · {coach.engine} coach · user {who}[/]")
                for line in intro_lines(coach.formats()[fmt]):
                    console.print(escape(line))
            loaded()  # the first question is ready: start-up is over
            answers = read_answers(console, interactive, countdown)
            rate = (tty_self_rating(console) if interactive else piped_self_rating(console, answers)) if rating else None
            try:
                last = await run_interview(coach, console, who, first, answers, self_rating=rate, countdown=countdown)
            finally:
                if countdown is not None:
                    countdown.close()
            if not last.finished:
                console.print(
                    f"[yellow]input ended before the interview did; session {last.session_id} is saved:[/] "
                    "`coach interview --resume` continues it"
                )
            return 0

    raise typer.Exit(asyncio.run(go()))
