"""The `coach` Typer app and what every command shares: settings, consoles, error handling.

Commands live in `bots/commands/`, one module each; `bots/cli.py` imports them all. Importing a
command module stays cheap (only typer and rich): each command imports what it needs when it runs,
so `coach --help` and a light command never pay for LangGraph, SQLAlchemy or the MCP SDK.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from agent.errors import CoachError

if TYPE_CHECKING:  # settings pull in pydantic-settings: loaded by the commands that run, not by `--help`
    from agent.config import Settings

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
T = TypeVar("T")


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
    from agent.config import Settings

    try:
        return Settings()
    except ValueError as err:
        raise CoachError(f"invalid configuration: {err}") from None


def with_coach(fn: Callable[[Any], Awaitable[T] | T], offline: bool | None = True, settings: Settings | None = None) -> T:
    """Open the coach's service for one command, call `fn(service)` and close it again."""
    import asyncio
    import inspect

    from agent.service import SessionService

    async def go() -> T:
        async with SessionService.open(settings or load_settings(), offline=offline) as coach:
            result = fn(coach)
            return await result if inspect.isawaitable(result) else result  # type: ignore[return-value]

    return asyncio.run(go())


def engine_choice(offline: bool, online: bool) -> bool | None:
    if offline and online:
        raise CoachError("choose one of --offline and --online")
    return True if offline else False if online else None
