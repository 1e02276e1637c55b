"""`coach`: the command line. Each command parses, calls the service, renders; nothing more.

    coach interview --offline --topic rag --questions 3
    coach interview --resume            # continue your unfinished session
    coach mcp                           # the coach's tools for Claude Desktop
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

from agent.redaction import install_redaction, redact, report_unexpected
from bots.app import app
from bots.commands import bank, eval, grade_file, interview, mcp, progress, run_code, sessions, telegram  # noqa: F401  (each module registers its command)
from bots.startup import defer_collection


def main() -> None:
    install_redaction()  # first: secrets are masked in every log line and error from here on
    defer_collection()  # until the command's start-up is done (bots/startup.py)
    try:
        app()
        code: int = 0
    except SystemExit as done:
        code = _exit_code(done)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as err:  # noqa: BLE001  (a bug: one redacted line, not a traceback that could hold a secret)
        report_unexpected(err)
        code = 1
    _exit_now(code)


def _exit_code(done: SystemExit) -> int:
    if done.code is None or isinstance(done.code, int):
        return done.code or 0
    print(redact(str(done.code)), file=sys.stderr)  # what the interpreter does with SystemExit("message")
    return 1


def _exit_now(code: int) -> None:
    """End the process once the command is done, without tearing the interpreter down.

    Why: after an interview the process holds LangGraph, SQLAlchemy, numpy and the word vectors,
    and the interpreter's own teardown (freeing every module and object one by one) measured
    0.3-0.7 s here, a third of a short interview. Everything that matters is finished by now: the
    command has returned (the service closed its store, checkpointer and runner), and the exit
    hooks below still run (log handlers, temporary directories); then the output is flushed.
    Only the console entry point does this, never code that imports the app; and not under a
    profiler or tracer (cProfile, pyinstrument, coverage), which write their report at teardown.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()  # what a normal exit runs: finalizers, logging.shutdown, ...
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`coach ... | head`): nothing left to write
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    main()
