"""`coach interview` as a subprocess, answers on stdin, and its errors for bad input."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MINI_BANK

COACH = [sys.executable, "-m", "bots.cli"]
ROOT = Path(__file__).resolve().parent.parent


def coach(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COACH, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.slow
def test_offline_interview_on_the_shipped_bank_completes() -> None:
    answers = "\n".join(["I think it is about trade-offs between speed and memory."] * 12) + "\n"
    out = coach("interview", "--offline", "--questions", "3", stdin=answers)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Question 1/3") == 1 and "Question 3/3" in out.stdout
    assert "Report · session" in out.stdout and "Model answer:" in out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_commands_and_a_full_report_on_the_fixture_bank() -> None:
    env = {"COACH_BANK_DIR": str(MINI_BANK)}
    stdin = "/hint\n/skip\n/end\n"
    out = coach("interview", "--offline", "-n", "2", "--topic", "caching", stdin=stdin, env=env)
    assert out.returncode == 0, out.stderr
    assert "hint:" in out.stdout and "skipped" in out.stdout and "Report" in out.stdout


@pytest.mark.parametrize(
    "args, stdin, env, message",
    [
        (["--topic", "astrology"], "", {}, "unknown topic 'astrology'; choose one of"),
        *(pytest.param(*case, marks=pytest.mark.slow) for case in [  # one case is enough for the fast lane
            (["--online"], "", {}, "set ANTHROPIC_API_KEY, or run with --offline"),
            (["--offline", "--online"], "", {}, "choose one of --offline and --online"),
            (["--questions", "0"], "", {}, "between 1 and"),
            (["--resume"], "", {}, "no unfinished session"),
            (["--session", "nope"], "", {}, "no session 'nope'"),
            ([], "", {"COACH_HOME": "/proc/forbidden"}, "set COACH_HOME to a writable directory"),
        ]),
    ],
)
def test_bad_input_gets_one_actionable_line_and_a_nonzero_exit(args, stdin, env, message) -> None:
    out = coach("interview", *args, stdin=stdin, env={"COACH_BANK_DIR": str(MINI_BANK), **env})
    assert out.returncode == 2
    assert message in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr + out.stdout


@pytest.mark.slow
def test_oversized_and_empty_answers_are_refused_then_the_interview_goes_on() -> None:
    stdin = "\n" + "x" * 100_000 + "\nAn index avoids a full table scan.\n/end\n"
    out = coach("interview", "--offline", "-n", "1", "--topic", "sql", stdin=stdin,
                env={"COACH_BANK_DIR": str(MINI_BANK)})
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "Your answer is empty" in text and "the limit is 20,000" in text
    assert text.count("graded by offline") == 1  # only the real answer was graded


@pytest.mark.slow
def test_sigkill_between_answers_then_resume_keeps_everything(coach_home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_BANK_DIR": str(MINI_BANK), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [*COACH, "interview", "--offline", "-n", "3", "--user", "kim"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    first = "An index avoids a full table scan, so lookups are faster, but inserts get slower."
    proc.stdin.write(first + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    seen = ""
    while "score " not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert "score " in seen, "the first answer was never graded"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    rest = "\n".join(["It uses a hash map and a doubly linked list."] * 8) + "\n"
    out = coach("interview", "--resume", "--user", "kim", stdin=rest, env={"COACH_BANK_DIR": str(MINI_BANK)})
    assert out.returncode == 0, out.stderr
    assert "continuing session" in out.stdout and "Report · session" in out.stdout
    # the answer given before the kill is part of the final report
    assert "sql" in out.stdout and "Question 1/3" not in out.stdout

    import sqlite3

    db = sqlite3.connect(coach_home / "coach.db")
    answers = [a for (a,) in db.execute("select answer from turns order by seq")]
    assert answers[0] == first and len(answers) >= 3
    assert db.execute("select status from interview_sessions").fetchall() == [("finished",)]


@pytest.mark.slow
def test_interactive_terminal_multiline_answer_and_clean_exit() -> None:
    """On a TTY an answer spans lines until an empty line; after the report the command exits."""
    import pty
    import select

    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_BANK_DIR": str(MINI_BANK), "COLUMNS": "200"}
    pid, fd = pty.fork()
    if pid == 0:  # child: the real command on a pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "bots.cli", "interview", "--offline", "-n", "1",
                                   "--topic", "sql", "--no-self-rate"], env)  # the rating prompt: test_self_rating
    out = b""

    def read_until(marker: bytes, timeout: float = 20) -> None:
        nonlocal out
        deadline = time.monotonic() + timeout
        while marker not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return

    read_until(b"your answer")
    for line in ["An index avoids a full table scan", "so lookups are faster.", ""]:
        os.write(fd, (line + "\n").encode())
    read_until(b"Follow-up")
    os.write(fd, b"/end\n")
    read_until(b"Model answer")
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # a hung child fails the test instead of hanging the suite
    status = done[1]
    if done[0] == 0:
        os.kill(pid, 9)
        pytest.fail(f"the interview did not exit after its report; it printed: {out[-500:]!r}")
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode(errors="replace"))
    assert os.waitstatus_to_exitcode(status) == 0
    assert 'faster_reads' in text and '"An index avoids a full table scan so lookups are faster."' in " ".join(text.split())
    assert text.count("your answer") == 2  # no prompt after the report


@pytest.mark.slow
def test_a_coding_round_in_the_terminal_with_file_answers(tmp_path: Path) -> None:
    import yaml

    from agent.catalog import Catalog

    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    question = Catalog.load().question("coding.merge_intervals")
    (bank_dir / "coding.yaml").write_text(yaml.safe_dump([question.model_dump(mode="json")]))
    solution = tmp_path / "solution.py"
    solution.write_text(Catalog.load().challenge("merge-intervals").reference_solution)
    stdin = f"/file {tmp_path / 'missing.py'}\n/file {solution}\n"
    out = coach("interview", "--offline", "--format", "code", stdin=stdin, env={"COACH_BANK_DIR": str(bank_dir)})
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, out.stderr
    assert "cannot read" in text and "Live coding" in text and "Starter:" in text
    assert "score 100%" in text and "graded by tests" in text


def test_tty_reader_keeps_blank_lines_inside_a_code_fence(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from bots.terminal import read_answers

    typed = iter(["```", "def f():", "", "    return 1", "```", "a plain", "answer", "", "/skip"])

    def fake_input(_prompt: str = "") -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    with open(os.devnull, "w") as devnull:
        answers = list(read_answers(Console(file=devnull), interactive=True))
    assert answers == ["def f():\n\n    return 1", "a plain\nanswer", "/skip"]
