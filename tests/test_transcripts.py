"""Graded transcripts: replayed identically, re-graded, exported and imported exactly, rendered."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agent.catalog import Catalog
from agent.config import Settings
from agent.domain import Grade, KeyPointVerdict
from agent.records import SCHEMA_FILE, schema_json
from agent.regrade import regrade
from agent.service import SessionService
from tests.conftest import MINI_BANK
from tests.test_cli import coach
from tests.test_progress_cli import png_colours, png_size

ENV = {"COACH_BANK_DIR": str(MINI_BANK)}


def record_session(user: str = "ada") -> str:
    stdin = "An index avoids a full table scan, so lookups are faster.\nInserts get slower <script>x</script>.\n/end\n"
    run = coach("interview", "--offline", "-n", "1", "--topic", "sql", "--user", user, stdin=stdin, env=ENV)
    assert run.returncode == 0, run.stderr
    return run.stdout.split("session ", 1)[1].split()[0]


def test_the_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text() == schema_json(), "regenerate agent/transcript.schema.json"


@pytest.mark.slow
def test_a_recorded_session_replays_identically(coach_home: Path) -> None:
    sid = record_session()
    first = coach("replay", sid, "--user", "ada", "--format", "json", env=ENV)
    second = coach("replay", sid, "--user", "ada", "--format", "json", env=ENV)  # another process
    assert first.returncode == 0 and first.stdout == second.stdout
    transcript = json.loads(first.stdout)
    assert transcript["schema_version"] == 1 and transcript["session_id"] == sid
    answers = [s["turn"]["answer"] for s in transcript["steps"]]
    assert answers == ["An index avoids a full table scan, so lookups are faster.", "Inserts get slower <script>x</script>."]
    verdicts = transcript["steps"][0]["turn"]["grade"]["verdicts"]
    assert verdicts[0] == {"key_point": "faster_reads", "verdict": "covered",
                           "evidence": "An index avoids a full table scan, so lookups are faster."}
    text = coach("replay", sid, "--user", "ada", env=ENV).stdout
    assert "Follow-up to #1" in text and "✅ faster_reads" in text
    md = coach("replay", sid, "--user", "ada", "--format", "md", env=ENV).stdout
    assert md.startswith(f"# Interview {sid}") and "**Grade:** 33%" in md


@pytest.mark.slow
def test_other_users_get_not_found_everywhere(coach_home: Path) -> None:
    sid = record_session("ada")
    for args in (["replay", sid, "--user", "eve"], ["replay", sid, "--user", "eve", "--format", "html"]):
        out = coach(*args, env=ENV)
        assert out.returncode == 2 and f"no session '{sid}' for user 'eve'" in out.stderr
    assert sid not in coach("sessions", "--user", "eve", env=ENV).stdout
    assert "restored 0" not in coach("export", "--user", "eve", env=ENV).stdout
    assert json.loads(coach("export", "--user", "eve", env=ENV).stdout)["transcripts"] == []


@pytest.mark.anyio
async def test_regrade_shows_what_a_different_grader_changes(settings: Settings, mini_bank: Catalog) -> None:
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as svc:
        step = await svc.start("ada", topic="sql", questions=1)
        step = await svc.answer(step.session_id, "ada", "It avoids a full table scan.")
        await svc.end(step.session_id, "ada")
        transcript = svc.transcript(step.session_id, "ada")

    async def same(request):
        return (await svc.llm.grade(request)).value

    async def stricter(request):
        points = [kp.id for kp in request.question.key_points if not request.only or kp.id in request.only]
        return Grade(score=0.0, rating=1, grader="strict-v2",
                     verdicts=[KeyPointVerdict(key_point=p, verdict="missing") for p in points])

    unchanged = await regrade(transcript, mini_bank, same)
    assert [(r.old_score, r.new_score, r.changed) for r in unchanged] == [(unchanged[0].old_score,) * 2 + ([],)]
    [row] = await regrade(transcript, mini_bank, stricter)
    assert row.old_score > 0 and row.new_score == 0 and row.new_grader == "strict-v2"
    assert ("faster_reads", "covered", "missing") in row.changed


@pytest.mark.slow
def test_export_then_import_round_trips_exactly(coach_home: Path, tmp_path: Path) -> None:
    record_session("ada")
    record_session("ada")
    backup = tmp_path / "backup.json"
    assert coach("export", "--user", "ada", "--out", str(backup), env=ENV).returncode == 0
    elsewhere = {**ENV, "COACH_HOME": str(tmp_path / "other-home")}
    restored = coach("import", str(backup), env=elsewhere)
    assert "restored 2 session(s)" in restored.stdout
    assert "skipped 2 already present" in coach("import", str(backup), env=elsewhere).stdout
    again = tmp_path / "again.json"
    coach("export", "--user", "ada", "--out", str(again), env=elsewhere)
    assert again.read_text() == backup.read_text()
    assert "Weak topics" in coach("progress", "--user", "ada", env=elsewhere).stdout  # memory came back too
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "something else"}')
    bad = coach("import", str(broken), env=elsewhere)
    assert bad.returncode == 2 and "not a coach backup" in bad.stderr


@pytest.mark.slow
def test_html_escapes_and_is_self_contained(settings: Settings, coach_home: Path) -> None:
    sid = record_session()
    html = coach("replay", sid, "--user", "ada", "--format", "html", env=ENV).stdout
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_html_export_renders_in_headless_chromium(coach_home: Path, tmp_path: Path) -> None:
    sid = record_session()
    page = tmp_path / "session.html"
    assert coach("replay", sid, "--user", "ada", "--format", "html", "--out", str(page), env=ENV).returncode == 0
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tempfile.mkdtemp()}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert "What does a database index buy you" in dom.stdout and "33%" in dom.stdout and "faster_reads" in dom.stdout
    shot = tmp_path / "phone.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=412,1400", page.as_uri()],
                   capture_output=True, timeout=60)
    data = shot.read_bytes()
    assert png_size(data) == (412, 1400) and png_colours(data) > 20  # a real page, not a blank one
