"""Bad input at the edges gets one clear `error:` line and exit code 2, never a traceback, and loses
nothing. One test per item of issue 15's list, through the real CLI in its own process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from agent.config import Settings
from agent.store import migrate
from agent.store.repository import Store
from tests.conftest import MINI_BANK, _postgres_database
from tests.test_output_safety import ROOT, assert_one_error_line, coach

pytestmark = pytest.mark.slow  # every test here starts the CLI in a new process

LATIN1_ANSWER = "caf\xe9 au lait".encode("latin-1")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def coach_bytes(*args: str, home: Path, stdin: bytes) -> subprocess.CompletedProcess:
    """The CLI with raw bytes on stdin (what a Latin-1 file piped in looks like)."""
    base = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "DATABASE_URL", "COACH_DATABASE_URL")}
    out = subprocess.run([sys.executable, "-m", "bots.cli", *args], input=stdin, capture_output=True, timeout=120,
                         env={**base, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "COACH_HOME": str(home),
                              "COACH_BANK_DIR": str(MINI_BANK)})
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode("utf-8", "replace"),
                                       out.stderr.decode("utf-8", "replace"))


def test_invalid_utf8_on_stdin_is_refused_and_the_answers_before_it_are_kept(home: Path) -> None:
    stdin = b"An LRU cache evicts the least recently used entry when it is full.\n" + LATIN1_ANSWER + b"\n/end\n"
    out = coach_bytes("interview", "--offline", "-n", "2", "--topic", "caching", home=home, stdin=stdin)
    line = assert_one_error_line(out)
    assert "line 2 of the input is not UTF-8 text (byte 0xe9" in line and "--resume" in line
    backup = json.loads(coach("export", "--user", "local", home=home).stdout)
    (only,) = backup["transcripts"]
    answers = [step["turn"]["answer"] for step in only["steps"]]
    assert answers and answers[0].startswith("An LRU cache evicts")  # graded and kept
    assert not any("caf" in a for a in answers)  # nothing of the bad line, no mojibake stored
    assert only["status"] == "active"  # resumable with `coach interview --resume`


@pytest.mark.parametrize("command_line", [["import", "{file}"], ["grade-file", "{file}"], ["bank", "stats"]])
def test_a_file_that_is_not_utf8_is_named_in_one_line(home: Path, tmp_path: Path, command_line: list[str]) -> None:
    if command_line[0] == "bank":
        bank = tmp_path / "bank" / "questions"
        bank.mkdir(parents=True)
        (bank / "latin1.yaml").write_bytes(b"- id: q1\n  prompt: " + LATIN1_ANSWER + b"\n")
        out = coach(*command_line, home=home, env={"COACH_BANK_DIR": str(tmp_path / "bank")})
    else:
        file = tmp_path / "input.json"
        file.write_bytes(b'{"question": "q", "reference_answer": "milk", "answer": "' + LATIN1_ANSWER + b'"}\n')
        out = coach(*[part.format(file=file) for part in command_line], home=home)
    line = assert_one_error_line(out)
    assert "UTF-8" in out.stderr and "byte 0xe9" in out.stderr  # names the problem and where
    assert "nothing in" in line or "save it as UTF-8" in line


def test_grade_file_skips_a_non_utf8_line_by_number_and_grades_the_rest(tmp_path: Path, home: Path) -> None:
    file = tmp_path / "mixed.jsonl"
    good = b'{"question": "q", "reference_answer": "milk and coffee", "answer": "coffee with milk"}\n'
    file.write_bytes(good + b'{"question": "q", "reference_answer": "milk", "answer": "' + LATIN1_ANSWER + b'"}\n')
    out = coach("grade-file", str(file), "--json", home=home)
    assert out.returncode == 0, out.stderr
    assert "line 2: not UTF-8 text (byte 0xe9)" in out.stderr and "Traceback" not in out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["line"] for r in rows[:-1]] == [1] and rows[-1]["summary"]["skipped"] == 1


def test_import_of_a_directory(home: Path, tmp_path: Path) -> None:
    line = assert_one_error_line(coach("import", str(tmp_path), home=home))
    assert "is a directory; give a file" in line


def test_a_scalar_bank_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "bank" / "questions").mkdir(parents=True)
    (tmp_path / "bank" / "questions" / "scalar.yaml").write_text("just a sentence\n", encoding="utf-8")
    line = assert_one_error_line(coach("bank", "stats", home=home, env={"COACH_BANK_DIR": str(tmp_path / "bank")}))
    assert "scalar.yaml must hold a list of items, not a str" in line


@pytest.mark.parametrize("human", ["NaN", "1e400", "-Infinity"])
def test_a_human_score_that_is_not_a_finite_number(home: Path, tmp_path: Path, human: str) -> None:
    file = tmp_path / "scores.jsonl"
    record = '{"question": "q", "reference_answer": "milk and coffee", "answer": "coffee", "human_score": %s}\n'
    file.write_text(record % human, encoding="utf-8")
    line = assert_one_error_line(coach("grade-file", str(file), home=home))
    assert "nothing in" in line and "line 1: human_score must be a finite number" in coach(
        "grade-file", str(file), home=home).stderr
    file.write_text(record % human + record % "2" + record % "4", encoding="utf-8")  # with good records
    out = coach("grade-file", str(file), "--json", home=home)
    assert out.returncode == 0 and "line 1: human_score must be a finite number" in out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])["summary"]
    assert summary["graded"] == 2 and summary["skipped"] == 1
    assert all(v is None or v == v for v in summary.values())  # no NaN leaked into the figures


@pytest.mark.parametrize("user, cmd", [("a/b", "progress"), ("x" * 121, "interview"), ("ada\x1b[2J", "sessions"),
                                       (" ada", "export")])
def test_a_user_name_that_cannot_name_a_user(home: Path, user: str, cmd: str) -> None:
    line = assert_one_error_line(coach(cmd, "--user", user, home=home, stdin="/end\n"))
    assert line.startswith("error: invalid --user:") and "\x1b" not in line
    assert not (home / "coach.db").exists()  # refused before anything was written


@pytest.mark.postgres
def test_a_long_user_name_on_postgresql_is_refused_before_the_database(home: Path) -> None:
    for url in _postgres_database():
        out = coach("interview", "--offline", "--user", "u" * 130, home=home, stdin="/end\n",
                    env={"DATABASE_URL": url})
        line = assert_one_error_line(out)
        assert "at most 120 characters" in line
        assert "INSERT" not in out.stderr and "parameters" not in out.stderr
        ok = coach("interview", "--offline", "-n", "1", "--user", "u" * 120, home=home, stdin="/end\n",
                   env={"DATABASE_URL": url})
        assert ok.returncode == 0, ok.stderr  # exactly at the limit is fine on PostgreSQL


def test_a_database_written_by_a_newer_coach(home: Path) -> None:
    assert coach("sessions", home=home).returncode == 0
    with sqlite3.connect(home / "coach.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    line = assert_one_error_line(coach("sessions", home=home))
    assert "this database was written by a newer coach" in line and "upgrade" in line
    with sqlite3.connect(home / "coach.db") as db:  # nothing was touched
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]


def test_a_database_file_that_is_not_sqlite(home: Path) -> None:
    home.mkdir(parents=True)
    garbage = b"this is not a database\n" * 200
    (home / "coach.db").write_bytes(garbage)
    line = assert_one_error_line(coach("sessions", home=home))
    assert "is not a coach database" in line and "move the file aside" in line
    assert (home / "coach.db").read_bytes() == garbage  # left as it was


def test_postgresql_without_its_driver_installed(home: Path, tmp_path: Path) -> None:
    shim = tmp_path / "no-driver" / "psycopg"
    shim.mkdir(parents=True)  # an import of psycopg fails as it does when the package is not installed
    (shim / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n")
    out = coach("sessions", home=home, env={"DATABASE_URL": "postgresql://coach@127.0.0.1:5432/coach",
                                            "PYTHONPATH": f"{shim.parent}:{ROOT}"})
    line = assert_one_error_line(out)
    assert "pip install 'interview-coach[postgres]'" in line


def test_invalid_configuration_is_one_line(home: Path) -> None:
    line = assert_one_error_line(coach("sessions", home=home, env={"COACH_LIMITS__MAX_ANSWER_CHARS": "lots"}))
    assert "limits.max_answer_chars" in line


def test_sqlite_downgrade_of_0003_with_foreign_keys_on(home: Path) -> None:
    settings = Settings(home=home)
    store = Store.open(settings.db_url)  # every connection turns foreign keys on
    try:
        store.create_session("ada", "concept", ["caching"], 1, "offline")  # a row that points at users
        cfg = migrate.alembic_config(store.engine)
        with store.engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
        assert "preferences" not in {c["name"] for c in inspect(store.engine).get_columns("users")}
        assert migrate.current_revision(store.engine) == "0002"
        migrate.alembic_upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.HEAD
        assert store.sessions_of("ada")  # the session survived the round trip
    finally:
        store.close()
