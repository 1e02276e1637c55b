"""The terminal front-end on a real pseudo-terminal (pexpect), 80 columns wide, as a person uses it:
long pastes arrive whole, honest endings, tables that fit, replay numbered as the interview was."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MINI_BANK
from tests.test_output_safety import ROOT, coach

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.slow  # each test drives the CLI in its own process on a pty

WIDTH = 80
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]|\x1b\[\?[0-9;]*[hl]")


def spawn(*args: str, home: Path) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "DATABASE_URL", "COACH_DATABASE_URL")}
    env.update({"PYTHONPATH": str(ROOT), "COACH_HOME": str(home), "COACH_BANK_DIR": str(MINI_BANK), "TERM": "xterm",
                "COLUMNS": str(WIDTH), "LINES": "24"})
    child = pexpect.spawn(sys.executable, ["-m", "bots.cli", *args], env=env, dimensions=(24, WIDTH),
                          encoding="utf-8", timeout=120)
    child.logfile_read = io.StringIO()  # everything the terminal showed, from the start
    return child


def type_slowly(child: pexpect.spawn, text: str) -> None:
    """Write to the pty in small pieces, as a terminal emulator delivers a paste."""
    for i in range(0, len(text), 256):
        child.send(text[i:i + 256])
        time.sleep(0.005)


def screen(child: pexpect.spawn) -> str:
    """All the process printed, once it has ended, without the terminal's control sequences."""
    child.expect(pexpect.EOF)
    return ANSI.sub("", child.logfile_read.getvalue())


def test_a_long_multi_paragraph_paste_is_stored_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    child = spawn("interview", "--offline", "--no-self-rate", "-n", "1", "--topic", "caching", home=home)
    child.expect("your answer")
    long_paragraph = ("A cache keeps the least recently used entries out. " * 150)[:6000]
    answer = "First paragraph.\n\n" + long_paragraph  # over the tty's 4095-byte line, with a blank line inside
    type_slowly(child, "\x1b[200~" + answer + "\x1b[201~")  # a bracketed paste, as terminals send one
    child.send("\r")
    child.send("\r")  # the empty line that sends it
    child.expect("score")
    child.expect("your answer")
    child.send("/end\r")
    assert "Traceback" not in screen(child)
    backup = json.loads(coach("export", "--user", "local", home=home).stdout)
    stored = backup["transcripts"][0]["steps"][0]["turn"]["answer"]
    assert stored == answer.strip()  # nothing cut at 4095, and the paste's blank line did not send half of it


def test_ending_with_nothing_answered_says_so(tmp_path: Path) -> None:
    child = spawn("interview", "--offline", "--no-self-rate", "-n", "2", "--topic", "caching", home=tmp_path / "home")
    child.expect("your answer")
    child.send("/end\r")
    shown = " ".join(screen(child).split())
    assert "Nothing was answered" in shown and "every key point was covered" not in shown


def _record(home: Path, user: str = "ada") -> tuple[str, list[str]]:
    """One interview on the pty with follow-ups; the session id and the labels it showed, in order."""
    child = spawn("interview", "--offline", "--no-self-rate", "-n", "2", "--topic", "caching", "--user", user, home=home)
    for text in ("An LRU cache evicts the least recently used entry", "something about memory", "/skip",
                 "the KV cache keeps keys and values of past tokens", "/end"):
        child.expect("your answer")
        child.send(text + "\r" + ("\r" if not text.startswith("/") else ""))
    shown = screen(child)
    session = re.search(r"session ([0-9a-f]{12})", shown)[1]
    return session, re.findall(r"(Question \d+/\d+|Follow-up)", shown)


def test_replay_numbers_questions_as_the_interview_did_and_needs_no_user(tmp_path: Path) -> None:
    home = tmp_path / "home"
    session, live = _record(home)
    assert "Question 2/2" in live and "Follow-up" in live
    replayed = screen(spawn("replay", session, home=home))  # no --user: the session's owner is found
    labels = re.findall(r"(Question \d+/\d+|Follow-up to #\d+)", replayed)
    assert [label.split(" to ")[0] for label in labels] == live
    main = [label for label in labels if label.startswith("Question")]
    follow_ups = [label for label in labels if label.startswith("Follow-up")]
    assert main == ["Question 1/2", "Question 2/2"] and set(follow_ups) <= {"Follow-up to #1", "Follow-up to #2"}


def test_regrade_says_which_grader_ran(tmp_path: Path) -> None:
    home = tmp_path / "home"
    session, _ = _record(home)
    shown = " ".join(screen(spawn("replay", session, "--regrade", home=home)).split())
    assert "regraded with the offline grader (no ANTHROPIC_API_KEY)" in shown


def test_tables_fit_80_columns_and_bank_stats_is_a_table(tmp_path: Path) -> None:
    home = tmp_path / "home"
    session, _ = _record(home, user="a-user-with-a-rather-long-name")
    for args in (["sessions", "--user", "a-user-with-a-rather-long-name"], ["bank", "stats"],
                 ["progress", "--user", "a-user-with-a-rather-long-name"],
                 ["replay", session, "--regrade"]):
        shown = screen(spawn(*args, home=home))
        lines = shown.replace("\r", "").splitlines()
        assert max(len(line) for line in lines) <= WIDTH, args
        assert "…" not in shown, (args, shown)  # nothing cut short
        assert "{" not in shown, args  # no Python dicts
    listing = screen(spawn("sessions", "--user", "a-user-with-a-rather-long-name", home=home))
    assert session in listing and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", listing)
