"""A visible clock: budgets at every prompt, a live countdown on a real terminal, the 45-minute
mock's sections, reviews labelled as reviews, and when each missed question comes back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import update

from agent.catalog import Catalog
from agent.config import Settings
from agent.domain import Prompt
from agent.service import SessionService
from agent.store.models import ReviewCardRow
from bots.intro import intro_lines
from bots.telegram.render import prompt_html, report_html
from bots.terminal import render_prompt, render_report, time_line
from tests.conftest import MINI_BANK

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


def printed(render, *args) -> str:
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    render(console, *args)
    return console.export_text()


async def test_the_mock_has_an_intro_named_sections_elapsed_time_and_a_summary_per_section(
    settings: Settings,
) -> None:
    async with SessionService.open(settings, offline=True, catalog=Catalog.load()) as coach:
        mock = coach.formats()["mock"]
        intro = intro_lines(mock)
        assert intro[0].startswith("45-minute mock interview: 5 sections, about 46:00 in all")  # the budgets add up to 46 min
        assert intro[1:] == ["1. warm-up: 3 questions, 1:00 each", "2. core: 2 questions, 4:00 each",
                             "3. coding: 1 question, 15:00", "4. design: 1 question, 15:00",
                             "5. behavioural: 1 question, 5:00"]
        assert intro_lines(coach.formats()["rapid"]) == []  # one section: nothing to introduce
        step = await coach.start("mo", fmt="mock")
        seen = []
        while not step.finished:
            p = step.prompt
            seen.append((p.section, p.section_number, p.sections, p.planned_s))
            assert p.elapsed_s is not None and p.elapsed_s >= 0
            if len(seen) == 1:
                assert "Section 1/5 · warm-up · 0:00 elapsed of 46:00" in printed(render_prompt, p)
                assert "<i>Section 1/5 · warm-up · 0:00 elapsed of 46:00</i>" in prompt_html(p)
                assert "· ⏱ 1:00" in prompt_html(p).split("\n")[1]  # the budget in the question header
            step = await coach.skip(step.session_id, "mo")
        assert [s[0] for s in seen] == ["warm-up"] * 3 + ["core"] * 2 + ["coding", "design", "behavioural"]
        assert {s[2] for s in seen} == {5} and {s[3] for s in seen} == {46 * 60}
        report = step.report
        assert [(s.name, s.questions, s.planned_s) for s in report.sections] == [
            ("warm-up", 3, 180), ("core", 2, 480), ("coding", 1, 900), ("design", 1, 900), ("behavioural", 1, 300)]
        assert all(s.score == 0 for s in report.sections)
        assert "Sections" in printed(render_report, report) and "▸ warm-up: 3 question(s), 0%" in report_html(report)


async def test_reviews_are_labelled_and_the_next_review_date_is_shown(coach: SessionService) -> None:
    step = await coach.start("rex", topic="sql", questions=1)
    step = await coach.skip(step.session_id, "rex")
    [item] = step.report.to_review
    due = datetime.fromisoformat(item["next_review"])
    assert due > datetime.now(UTC) - timedelta(minutes=5)
    assert "Next review:" in printed(render_report, step.report)
    assert "🔁 Next review:" in report_html(step.report)
    progress = coach.progress("rex")
    assert [u.question_id for u in progress.upcoming] == ["sql.index"]  # missed, review still ahead
    with coach.store._tx() as db:  # a day later: the review is due
        db.execute(update(ReviewCardRow).values(due=datetime.now(UTC) - timedelta(minutes=1)))
    step = await coach.start("rex", topic="sql", questions=1)
    assert step.prompt.chosen_because == "review due" and step.prompt.is_review
    assert "Review · Question 1/1" in printed(render_prompt, step.prompt)
    assert "you missed this one before" in printed(render_prompt, step.prompt)
    assert prompt_html(step.prompt).startswith("<b>🔁 Review · Question 1/1</b>")


def test_time_taken_against_the_budget_after_each_answer(mini_bank: Catalog) -> None:
    from agent.domain import Turn

    asked = datetime(2026, 1, 1, tzinfo=UTC)
    turn = Turn(seq=1, question_id="q", topic="t", prompt="p", asked_at=asked, time_budget_s=60,
                answered_at=asked + timedelta(seconds=67))
    assert time_line(turn) == "answered in 1:07 of 1:00 (0:07 over: late)"
    turn.answered_at = asked + timedelta(seconds=45)
    assert time_line(turn) == "answered in 0:45 of 1:00 (0:15 to spare)"
    prompt = Prompt(seq=1, question_id="q", topic="t", kind="rapid_fire", text="Quick one?", number=1, total=3,
                    time_budget_s=60)
    assert "Question 1/3 · t · rapid fire · ⏱ 1:00" in printed(render_prompt, prompt)


# --- a real terminal ------------------------------------------------------------------------------


class Tmux:
    """A private tmux server (its own socket) running one command in a fixed-size pane."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"coach-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        self._tmux("new-session", "-d", "-s", "t", "-x", "110", "-y", "45",
                   f"env {exports} {' '.join(command)}; sleep 30")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def type(self, text: str, enter: bool = True) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)
        if enter:
            self._tmux("send-keys", "-t", "t", "Enter")

    def wait_for(self, predicate, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.3)
        raise AssertionError(f"the terminal never showed what was expected:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


def status_line(screen: str) -> str:
    return next((line for line in screen.splitlines() if line.startswith("⏱ ")), "")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux for a real terminal")
def test_on_a_terminal_the_countdown_runs_above_the_input_and_the_rating_is_asked(coach_home: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "COACH_HOME": str(coach_home), "COACH_BANK_DIR": str(MINI_BANK),
           "TERM": "xterm-256color", "PATH": os.environ["PATH"]}
    term = Tmux([sys.executable, "-m", "bots.cli", "interview", "--offline", "-n", "1", "--topic", "sql"], env)
    try:
        first = term.wait_for(lambda s: "left of 4:00" in status_line(s) and ">" in s.splitlines())
        term.type("Lookups avoid a full table scan", enter=False)
        # the status line ticks while the candidate types, and what they typed stays as typed
        later = term.wait_for(lambda s: status_line(s) and status_line(s) != status_line(first))
        assert status_line(later).startswith("⏱ 3:") and "left of 4:00" in status_line(later)
        assert "> Lookups avoid a full table scan" in later
        lines = later.splitlines()
        assert lines.index(status_line(later)) == next(i for i, line in enumerate(lines) if line.startswith(">")) - 1
        term.type("")  # Enter ends the line ...
        term.type("")  # ... and an empty line sends the answer
        term.wait_for(lambda s: "How sure are you? 1 didn't know / 2 partly / 3 clear and complete" in s)
        term.type("5")
        term.wait_for(lambda s: "'5' is not a self-rating" in s)
        term.type("3")
        done = term.wait_for(lambda s: "you rated it 3 (clear and complete)" in s)
        assert "score 33%" in done or "score " in done
        term.wait_for(lambda s: "Follow-up" in s and s.count("left of") >= 2)
        term.type("/end")
        term.wait_for(lambda s: "Report · session" in s)
    finally:
        term.close()
