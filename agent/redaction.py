"""Secrets out of every log line and error message: the values of the coach's secret settings, and
anything shaped like a key or token, become `[redacted]`.

    install_redaction()          # an entry point (CLI, bot, MCP server) calls this once, first
    redact("token 123:ABC was rejected")

Why a log-record factory and not only a handler filter: a filter on a handler misses handlers
added later (PTB, uvicorn and `logging.basicConfig` add their own), and a filter on a logger misses
records propagated from its children. The factory sees every record as it is made: its message,
its arguments and its exception text are redacted before any handler formats them.
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any

SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN", "COACH_MCP_TOKEN", "TELEGRAM_WEBHOOK_SECRET",
                    "COACH_TELEGRAM_BOT_TOKEN", "COACH_ANTHROPIC_API_KEY", "COACH_STT_KEY")
MASK = "[redacted]"

TOKEN_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"), MASK),                       # Anthropic API keys
    (re.compile(r"\b\d{5,}:[A-Za-z0-9_\-]{20,}"), MASK),                   # Telegram bot tokens (id:secret)
    (re.compile(r"(/bot)[^/\s]+:[^/\s]+"), rf"\1{MASK}"),                     # a token in a Bot API URL
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"), rf"\1{MASK}"),  # an Authorization header
    (re.compile(r"(?i)((?:api[_-]?key|password|secret|token)[=:]\s*)[^\s&'\"`]{6,}"), rf"\1{MASK}"),  # key=value
)

_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Mask this value wherever it appears from now on. Values under 8 characters are not secrets
    anyone should use (the MCP server refuses tokens under 16) and would mask ordinary words: a
    token "short" would turn "shorter" into "[redacted]er"."""
    if value and len(value.strip()) >= 8:
        _secrets.add(value.strip())


def secrets_from_environment(environ: Iterable[tuple[str, str]] | None = None) -> None:
    for name, value in environ if environ is not None else os.environ.items():
        if name.upper() in SECRET_VARIABLES:
            add_secret(value)


def redact(text: str) -> str:
    """`text` with every known secret and token-shaped string masked."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: one secret may contain another
        if secret in text:
            text = text.replace(secret, MASK)
    for shape, replacement in TOKEN_SHAPES:
        text = shape.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record in place: message and arguments merged, exception and stack text formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  (a broken format string: keep what there is, redacted)
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None  # the text above is what handlers print; the live objects could leak
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_installed: list[Callable[..., logging.LogRecord]] = []


def install_redaction(extra_secrets: Iterable[str | None] = ()) -> None:
    """Mask the secret settings (from the environment, plus `extra_secrets`, e.g. from `.env`) in
    every log record from now on, and on every handler already attached to the root logger; an
    uncaught exception prints one redacted `error:` line instead of a traceback."""
    secrets_from_environment()
    for value in extra_secrets:
        add_secret(value)
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    redacting = RedactingFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redacting.filter(record)
        return record

    _installed.append(previous)
    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)
    install_exception_hook()


def describe_error(err: BaseException) -> str:
    """One redacted line for an unexpected error: its type and the first line of its message (never
    its traceback, nor what a database driver appends: the SQL and its parameters)."""
    lines = str(err).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else "no message"
    return redact(f"{type(err).__name__}: {text}")


def report_unexpected(err: BaseException, stream: Any = None) -> None:
    """The last resort for an error no one handled: one redacted `error:` line (the traceback only
    with COACH_DEBUG=1, and redacted too)."""
    import sys

    out = stream or sys.stderr
    if os.environ.get("COACH_DEBUG", "").strip() not in ("", "0"):
        out.write(redact("".join(traceback.format_exception(err))))
    out.write(f"error: unexpected {describe_error(err)}; this is a bug in the coach: rerun with COACH_DEBUG=1 "
              "for the traceback (secrets masked) and report it\n")
    out.flush()


def install_exception_hook() -> None:
    """Uncaught exceptions (main thread and others) print `report_unexpected`'s line, not a traceback."""
    import sys
    import threading

    def hook(kind: type[BaseException], err: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.stderr.write("interrupted\n")
            return
        report_unexpected(err.with_traceback(tb))

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
