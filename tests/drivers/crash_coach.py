"""The real `coach` CLI, killed with SIGKILL by itself at its Nth durable operation.

    COACH_TEST_KILL_AT=N COACH_TEST_KILL_WHEN=before|after python -m tests.drivers.crash_coach interview ...

Durable operations: the store's writes (a session created, turns recorded, a session finished), a
checkpoint written, and a code run (killed before it starts or after it returned, mid-grading).
A test hook lives here, not in the product: the product has no kill switch.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.store.repository import Store
from tools.runner.local import LocalCodeRunner

KILL_AT = int(os.environ.get("COACH_TEST_KILL_AT", "0"))
BEFORE = os.environ.get("COACH_TEST_KILL_WHEN", "after") == "before"
_done = 0


def _count(name: str) -> None:
    global _done
    _done += 1
    if _done == KILL_AT:
        sys.stderr.write(f"kill point {KILL_AT} ({'before' if BEFORE else 'after'} {name})\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def _sync(cls: type, name: str) -> None:
    real = getattr(cls, name)

    @functools.wraps(real)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if BEFORE:
            _count(name)
        out = real(*args, **kwargs)
        if not BEFORE:
            _count(name)
        return out

    setattr(cls, name, wrapper)


def _async(cls: type, name: str) -> None:
    real = getattr(cls, name)

    @functools.wraps(real)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if BEFORE:
            _count(name)
        out = await real(*args, **kwargs)
        if not BEFORE:
            _count(name)
        return out

    setattr(cls, name, wrapper)


for _name in ("create_session", "record_turns", "finish_session"):
    _sync(Store, _name)
_async(AsyncSqliteSaver, "aput")
_async(AsyncPostgresSaver, "aput")
_async(LocalCodeRunner, "run_challenge")

if __name__ == "__main__":
    from bots.cli import main

    sys.argv[0] = "coach"
    main()
