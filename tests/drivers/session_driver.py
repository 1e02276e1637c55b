"""A second process for concurrency tests: drives the real SessionService from the environment
(COACH_HOME, COACH_DATABASE_URL, COACH_BANK_DIR) and prints one JSON object per line.

    python -m tests.drivers.session_driver open USER              # open store + checkpointer, start a session
    python -m tests.drivers.session_driver answer SID USER TAG N GOFILE   # N answers once GOFILE exists
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from agent.config import Settings
from agent.errors import SessionBusy, SessionClosed
from agent.service import SessionService, open_catalog


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def open_and_start(user: str) -> None:
    settings = Settings()
    async with SessionService.open(settings, offline=True, catalog=open_catalog(settings)) as coach:
        step = await coach.start(user, questions=1)
        say(session=step.session_id, prompt=bool(step.prompt))


async def answer(session_id: str, user: str, tag: str, count: int, go: Path) -> None:
    settings = Settings().for_local_terminal()
    async with SessionService.open(settings, offline=True, catalog=open_catalog(settings)) as coach:
        for _attempt in range(100):  # warm: store, graph and checkpointer open (the twin may hold it)
            try:
                await coach.resume(session_id, user)
                break
            except SessionBusy:
                await asyncio.sleep(0.05)
        say(ready=True)
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:  # both writers start together
            await asyncio.sleep(0.005)
        for i in range(count):
            text = f"{tag}-{i}: an index avoids a full table scan, so reads are faster and writes slower."
            try:
                step = await coach.answer(session_id, user, text)
            except SessionBusy as err:
                say(text=text, busy=str(err))
                continue
            except SessionClosed as err:
                say(text=text, closed=str(err))
                break
            say(text=text, graded=[t.answer for t in step.graded], finished=step.finished)
            if step.finished:
                break


def main() -> None:
    verb, *args = sys.argv[1:]
    if verb == "open":
        asyncio.run(open_and_start(args[0]))
    elif verb == "answer":
        asyncio.run(answer(args[0], args[1], args[2], int(args[3]), Path(args[4])))
    else:
        raise SystemExit(f"unknown verb {verb!r}")


if __name__ == "__main__":
    main()
