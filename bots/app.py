"""The `coach` Typer app and what every command shares: settings, consoles, error handling.

Commands live in `bots/commands/`, one module each; `bots/cli.py` imports them all. Importing a
command module stays cheap (only typer and rich): each command imports what it needs when it runs,
so `coach --help` and a light command never pay for LangGraph, SQLAlchemy or the MCP SDK.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from agent.errors import CoachError, ConfigError
from agent.redaction import add_secret, redact
from bots.safe_text import terminal_text

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
            say_error(str(err))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("\ninterrupted: your graded answers are saved; `coach interview --resume` continues")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def say_error(message: str) -> None:
    """One `error:` line on stderr: secrets masked, control characters and markup made inert."""
    line = " ".join(terminal_text(redact(message)).split())
    err_console.print(f"[red]error:[/] {escape(line)}", soft_wrap=True)


def load_settings() -> Settings:
    from pydantic import ValidationError

    from agent.config import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise ConfigError(f"invalid configuration: {where}: {first['msg']}{more}; fix it in the environment "
                          "or .env") from None
    except ValueError as err:  # pydantic-settings' own errors (a JSON value that is not JSON, ...)
        raise ConfigError(f"invalid configuration: {str(err).splitlines()[0]}; fix it in the environment or .env") from None
    for secret in (settings.anthropic_api_key, settings.telegram_bot_token, settings.telegram_webhook_secret):
        add_secret(secret.get_secret_value() if secret else None)  # from .env too, not only the environment
    return settings


def user_name(user: str | None, settings: Settings, what: str = "--user") -> str:
    """The `--user` given, or the configured default; one clear line when it cannot name a user."""
    from agent.config import user_name_problem

    name = settings.default_user if user is None else user
    problem = user_name_problem(name)
    if problem:
        raise ConfigError(f"invalid {what}: {problem}; choose a short name such as `ada`")
    return name


def read_user_file(path: Path, what: str) -> str:
    """A UTF-8 text file the user named, or one line saying what is wrong with it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CoachError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise CoachError(f"{what} {path} is a directory; give a file") from None
    except UnicodeDecodeError as err:
        raise CoachError(f"{what} {path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
                         f"{err.start}); save it as UTF-8") from None
    except OSError as err:
        raise CoachError(f"cannot read {what} {path}: {err.strerror or err}") from None


def write_user_file(path: Path, text: str | bytes) -> None:
    """Write an export or chart where the user asked; one line when that place is not writable."""
    try:
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise CoachError(f"cannot write {path}: {err.strerror or err}; choose another path") from None


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
