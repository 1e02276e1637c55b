"""A live countdown for the terminal: one status line above the answer being typed.

Only on a real terminal (the caller checks stdin and stdout are TTYs; piped runs never get an
escape code). A background thread rewrites just that status line once a second: it saves the
cursor (ESC 7), moves up past the lines typed so far, rewrites the line, and restores the cursor
(ESC 8), so what the candidate is typing is never touched. It stops when the status line would
have scrolled off the top of the screen, and whenever the answer has been sent.
"""

from __future__ import annotations

import math
import shutil
import threading
from datetime import UTC, datetime, timedelta
from typing import TextIO

from agent.domain import Prompt


def clock(seconds: float) -> str:
    """Seconds as m:ss (or h:mm:ss past an hour)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def status_text(budget_s: int, left_s: float) -> str:
    if left_s > 0:
        return f"⏱ {clock(left_s)} left of {clock(budget_s)}"
    return f"⏱ time is up ({clock(budget_s)}): answer when ready, a late answer is still graded"


class Countdown:
    def __init__(self, stream: TextIO, interval: float = 1.0) -> None:
        self._stream = stream
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deadline: datetime | None = None
        self._budget = 0
        self._lines_below = 0
        self._active = False

    def follow(self, prompt: Prompt | None) -> None:
        """Count down for `prompt` (its time budget from when it was asked); None stops counting."""
        with self._lock:
            self._active = False
            if prompt and prompt.time_budget_s and prompt.asked_at:
                self._deadline = prompt.asked_at + timedelta(seconds=prompt.time_budget_s)
                self._budget = prompt.time_budget_s
            else:
                self._deadline = None

    def show(self) -> None:
        """Print the status line now (input follows on the next line) and keep it live."""
        with self._lock:
            if self._deadline is None:
                return
            self._stream.write(self._text() + "\n")
            self._stream.flush()
            self._lines_below = 0
            self._active = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="countdown", daemon=True)
            self._thread.start()

    def line_entered(self, chars: int) -> None:
        """A line of input was typed (`chars` long, prompt included): the status is further up."""
        columns = shutil.get_terminal_size().columns or 80
        with self._lock:
            self._lines_below += max(1, math.ceil(chars / columns))

    def pause(self) -> None:
        """The answer is sent: leave the status line as it is until the next `show`."""
        with self._lock:
            self._active = False

    def close(self) -> None:
        self.pause()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _text(self) -> str:
        assert self._deadline is not None
        return status_text(self._budget, (self._deadline - datetime.now(UTC)).total_seconds())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if not self._active or self._deadline is None:
                    continue
                up = self._lines_below + 1
                if up >= shutil.get_terminal_size().lines - 1:
                    self._active = False  # the status line has scrolled away: stop rather than scribble
                    continue
                self._stream.write(f"\0337\033[{up}A\r\033[2K{self._text()}\0338")
                self._stream.flush()
