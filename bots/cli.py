"""`coach`: the command line. Each command parses, calls the service, renders; nothing more.

    coach interview --offline --topic rag --questions 3
    coach interview --resume            # continue your unfinished session
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from agent.config import Settings
from agent.errors import CoachError

app = typer.Typer(
    name="coach",
    help="Agentic interview coach: mock interviews graded against rubrics, offline by default.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., object])


@app.callback()
def _root() -> None:
    """Agentic interview coach: mock interviews graded against rubrics, offline by default."""


def user_errors(fn: F) -> F:
    """Print a CoachError as one actionable line and exit 2: no tracebacks for the user."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CoachError as err:
            err_console.print(f"[red]error:[/] {err}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("\ninterrupted: your graded answers are saved; `coach interview --resume` continues")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as err:
        raise CoachError(f"invalid configuration: {err}") from None


def engine_choice(offline: bool, online: bool) -> bool | None:
    if offline and online:
        raise CoachError("choose one of --offline and --online")
    return True if offline else False if online else None


@app.command()
@user_errors
def interview(
    offline: Annotated[bool, typer.Option("--offline", help="Use the offline interviewer and grader.")] = False,
    online: Annotated[bool, typer.Option("--online", help="Require Claude (needs ANTHROPIC_API_KEY).")] = False,
    topic: Annotated[str | None, typer.Option("--topic", "-t", help="Only ask about this topic.")] = None,
    questions: Annotated[int | None, typer.Option("--questions", "-n", help="How many main questions.")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose practice history this is.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue your latest unfinished session.")] = False,
    session: Annotated[str | None, typer.Option("--session", help="Continue this session id.")] = None,
) -> None:
    """Hold a mock interview in the terminal."""
    from agent.service import SessionService
    from bots.terminal import read_answers, run_interview

    settings = load_settings()
    who = user or settings.default_user
    interactive = sys.stdin.isatty()

    async def go() -> int:
        async with SessionService.open(settings, offline=engine_choice(offline, online)) as coach:
            session_id = session or (coach.latest_active(who) if resume else None)
            if resume and not session_id:
                raise CoachError(f"{who} has no unfinished session; start one with `coach interview`")
            if session_id:
                first = await coach.resume(session_id, who)
                console.print(f"[dim]continuing session {session_id}[/]")
            else:
                first = await coach.start(who, topic=topic, questions=questions)
                console.print(f"[dim]session {first.session_id} · {coach.llm.name} coach · user {who}[/]")
            last = await run_interview(coach, console, who, first, read_answers(console, interactive))
            if not last.finished:
                console.print(
                    f"[yellow]input ended before the interview did; session {last.session_id} is saved:[/] "
                    "`coach interview --resume` continues it"
                )
            return 0

    raise typer.Exit(asyncio.run(go()))


@app.command()
@user_errors
def mcp(
    transport: Annotated[str, typer.Option(help="stdio (Claude Desktop) or http (streamable HTTP at /mcp).")] = "stdio",
    host: Annotated[str, typer.Option(help="Address to listen on with --transport http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on with --transport http.")] = 8765,
    user: Annotated[str | None, typer.Option("--user", "-u", help="The candidate this server serves.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use the offline interviewer and grader.")] = False,
) -> None:
    """Serve the coach's tools over MCP (for Claude Desktop and other MCP clients)."""
    from mcp_server.server import serve

    serve(load_settings(), transport, host, port, user, True if offline else None)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
