"""The terminal front-end: read the candidate's input, call the service, render what comes back.

Interactive on a TTY (an answer may span lines; an empty line sends it, and a block opened with
``` runs until the closing ```, blank lines included, for code). With stdin piped, each line is one
answer, except that a line opening a ``` fence starts an answer that runs to the closing fence (the
coach takes the code out of the fence). `/hint`, `/skip`, `/end` work as commands, and `/file PATH`
answers with a file's contents (a coding answer from your editor).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.panel import Panel
from rich.table import Table

from agent.domain import Grade, Prompt, SessionReport, Turn
from agent.errors import AnswerRejected
from agent.service import SessionService, Step, score_band
from bots.countdown import Countdown, clock
from bots.safe_text import terminal_text


def escape(text: str) -> str:
    """User or model text for the console: no control sequences, no rich markup."""
    return _markup_escape(terminal_text(text))


MARKS = {"covered": "[green]✓[/]", "partial": "[yellow]~[/]", "missing": "[red]✗[/]"}
RATING = {1: "again", 2: "hard", 3: "good", 4: "easy"}
COMMANDS = ("/hint", "/skip", "/end")


def undecodable(text: str) -> str | None:
    """Where `text` (read with surrogateescape) held bytes that are not UTF-8, or None."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return f"byte 0x{ord(ch) - 0xDC00:02x} at character {i + 1}"
    return None


def read_answers(console: Console, interactive: bool, countdown: Countdown | None = None) -> Iterator[str]:
    """Yield one answer at a time until input ends (on a terminal, under a live `countdown`).

    Input is read with surrogateescape, so bytes that are not UTF-8 are seen, never stored as
    mojibake. Piped, such a line ends the interview with one error (the answers before it are saved;
    skipping only that line would shift every later answer onto the wrong question). On a terminal
    that answer alone is refused and asked for again."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)  # a TextIOWrapper; not under every test harness
    if reconfigure and (sys.stdin.encoding or "").lower().replace("-", "") == "utf8":
        reconfigure(errors="surrogateescape")
    if not interactive:
        block: list[str] = []
        for n, raw_line in enumerate(sys.stdin, 1):
            where = undecodable(raw_line)
            if where:
                raise AnswerRejected(
                    f"line {n} of the input is not UTF-8 text ({where}); it was not stored, and the answers "
                    "before it are saved: convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and "
                    "continue from that line with `coach interview --resume`")
            line = raw_line.rstrip("\n")
            if block or line.count("```") % 2 == 1:  # inside a fence, or a line opening one
                block.append(line)
                if len(block) > 1 and line.count("```") % 2 == 1:
                    yield "\n".join(block)
                    block = []
                continue
            yield line
        if block:
            yield "\n".join(block)
        return
    _line_editing()
    pending: list[tuple[str, bool]] = []  # lines read but not yet used, each with "came in a paste"

    def next_line(prompt: str) -> tuple[str, bool]:
        if not pending:
            raw = input(prompt)
            if len(raw.encode("utf-8", "surrogateescape")) >= TTY_LINE_LIMIT:
                console.print(f"[yellow]that line is {TTY_LINE_LIMIT} bytes or more, the terminal's limit for one "
                              "line without line editing: its end may be cut. Send long answers with /file PATH.[/]")
            parts = raw.split("\n")  # a bracketed paste arrives whole, newlines and all
            pending.extend((part, len(parts) > 1) for part in parts)
        return pending.pop(0)

    while True:
        lines: list[str] = []
        console.print("[dim]your answer (empty line to send; ``` for code; /hint /skip /end /file PATH):[/]")
        fenced = False
        if countdown is not None:
            countdown.show()
        while True:
            try:
                line, pasted = next_line("> " if not lines else "  ")
                if countdown is not None:
                    countdown.line_entered(len(line) + 2)
            except EOFError:
                if lines:
                    yield "\n".join(lines)
                return
            if undecodable(line):
                console.print(f"[yellow]that line is not UTF-8 text ({undecodable(line)}) and was dropped; "
                              "set your terminal to UTF-8 and type it again[/]")
                continue
            if not lines and not pasted and (line.strip() in COMMANDS or line.strip().startswith("/file ")):
                yield line.strip()
                break
            if line.count("```") % 2 == 1:  # a fence line, maybe with prose before or after it
                if fenced:
                    yield "\n".join(lines)
                    break
                fenced = True
                continue
            if not line.strip() and not fenced and not pasted:  # a blank line inside a paste is the answer's own
                if lines:
                    yield "\n".join(lines)
                    break
                continue
            if line or lines or fenced:
                lines.append(line)


TTY_LINE_LIMIT = 4095
"""A terminal in canonical mode passes at most 4095 bytes of one line (Linux's N_TTY buffer)."""


def _line_editing() -> None:
    """Read terminal lines through GNU readline where Python has it: readline reads keystrokes in
    non-canonical mode, so a long paste is not cut at the terminal's 4095-byte line limit, and its
    bracketed paste delivers a multi-line paste whole (blank lines in it do not send the answer)."""
    import importlib

    with contextlib.suppress(ImportError):
        importlib.import_module("readline")


SELF_RATE_PROMPT = "How sure are you? 1 didn't know / 2 partly / 3 clear and complete (Enter to skip): "
SELF_RATING = {1: "didn't know", 2: "partly", 3: "clear and complete"}


def parse_self_rating(line: str) -> int | None:
    """A self-rating line: "1", "2" or "3"; empty skips. Anything else is AnswerRejected."""
    line = line.strip()
    if not line:
        return None
    if line in ("1", "2", "3"):
        return int(line)
    raise AnswerRejected(f"{line[:40]!r} is not a self-rating: the line after each answer is 1, 2, 3 or empty")


def piped_self_rating(console: Console, answers: Iterator[str]) -> Callable[[], int | None]:
    """With `--self-rate` on piped input, the line after each answer is its rating."""

    def rate() -> int | None:
        try:
            return parse_self_rating(next(answers, ""))
        except AnswerRejected as err:
            console.print(f"[yellow]{escape(str(err))}; this answer is sent unrated[/]")
            return None

    return rate


def tty_self_rating(console: Console) -> Callable[[], int | None]:
    """On a terminal: ask after each answer, before the grade, until a valid rating or Enter."""

    def rate() -> int | None:
        while True:
            try:
                return parse_self_rating(input(SELF_RATE_PROMPT))
            except AnswerRejected as err:
                console.print(f"[yellow]{escape(str(err))}[/]")
            except EOFError:
                return None

    return rate


async def run_interview(
    coach: SessionService, console: Console, user: str, first: Step, answers: Iterator[str],
    self_rating: Callable[[], int | None] | None = None, countdown: Countdown | None = None,
) -> Step:
    """Drive one interview from `first` until it finishes or input runs out.

    `self_rating`, when given, is asked after each answer (before it is graded)."""
    step = first
    shown = render_step(console, step, shown=(0, 0))
    if countdown is not None:
        countdown.follow(step.prompt)
    actions: dict[str, Callable] = {"/hint": coach.hint, "/skip": coach.skip, "/end": coach.end}
    for raw in answers:
        if step.finished:
            break
        command = raw.strip().lower()
        if countdown is not None:
            countdown.pause()
        try:
            if command in actions:
                step = await actions[command](step.session_id, user)
            else:
                text = _read_answer_file(raw.strip()[6:].strip()) if command.startswith("/file ") else raw
                confidence = self_rating() if self_rating else None
                step = await coach.answer(step.session_id, user, text, confidence=confidence)
        except AnswerRejected as err:
            console.print(f"[yellow]{escape(str(err))}[/]")
            continue
        shown = render_step(console, step, shown)
        if countdown is not None:
            countdown.follow(step.prompt)
        if step.finished:
            break
    return step


def _read_answer_file(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AnswerRejected(f"cannot read {path}: {getattr(err, 'strerror', None) or err}; give a UTF-8 text file") from None


def render_step(console: Console, step: Step, shown: tuple[int, int]) -> tuple[int, int]:
    """Print what is new since `shown` (the prompt seq and hint count already on screen)."""
    for turn in step.graded:
        render_grade(console, turn)
    if step.notice:
        console.print(f"[yellow]{escape(step.notice)}[/]")
    if step.report:
        render_report(console, step.report)
    if not step.prompt:
        return shown
    seq, hints_shown = shown
    if step.prompt.seq != seq:
        render_prompt(console, step.prompt)
        hints_shown = 0
    for hint in step.hints[hints_shown:]:
        console.print(f"[magenta]hint:[/] {escape(hint)}")
    return step.prompt.seq, len(step.hints)


def render_prompt(console: Console, prompt: Prompt) -> None:
    label = "Follow-up" if prompt.is_follow_up else f"Question {prompt.number}/{prompt.total}"
    if prompt.is_review and not prompt.is_follow_up:
        label = f"Review · {label}"
    title = escape(f"{label} · {prompt.topic} · {prompt.kind.replace('_', ' ')}")
    if prompt.time_budget_s:
        title += f" · ⏱ {clock(prompt.time_budget_s)}"
    if prompt.sections and prompt.sections > 1 and prompt.section:
        if prompt.section_number == 1 and prompt.number == 1 and not prompt.is_follow_up:
            console.rule(f"{prompt.sections} sections · about {clock(prompt.planned_s or 0)} in all")
        console.print(f"[bold]Section {prompt.section_number}/{prompt.sections} · {escape(prompt.section)}[/]"
                      f" · {clock(prompt.elapsed_s or 0)} elapsed of {clock(prompt.planned_s or 0)}")
    console.print(Panel(escape(prompt.text), title=title, title_align="left", border_style="cyan"))
    if prompt.is_review and not prompt.is_follow_up:
        console.print("[dim]a review: you missed this one before, so it came back[/]")


def time_line(turn: Turn) -> str:
    """How long the answer took against the question's budget."""
    if not turn.answered_at:
        return ""
    taken = (turn.answered_at - turn.asked_at).total_seconds()
    if not turn.time_budget_s:
        return f"answered in {clock(taken)}"
    left = turn.time_budget_s - taken
    verdict = f"{clock(left)} to spare" if left >= 0 else f"{clock(-left)} over: late"
    return f"answered in {clock(taken)} of {clock(turn.time_budget_s)} ({verdict})"


def render_grade(console: Console, turn: Turn) -> None:
    grade: Grade | None = turn.grade
    if grade is None:
        return
    if turn.outcome == "skipped":
        console.print("[dim]skipped[/]")
    console.print(
        f"[bold]score {grade.score:.0%}[/] · rating {grade.rating} ({RATING[grade.rating]}) · graded by {grade.grader}"
    )
    if turn.self_rating:
        console.print(f"you rated it {turn.self_rating} ({SELF_RATING[turn.self_rating]}) · "
                      f"the grade says {score_band(grade.score)}")
    if turn.outcome == "answered" and turn.answered_at:
        console.print(f"[dim]{time_line(turn)}[/]")
    for v in grade.verdicts:
        line = f"  {MARKS[v.verdict]} {escape(v.key_point)}"
        if v.key_point in turn.hinted:
            line += " [magenta](hinted: at most 50%)[/]"
        if v.evidence:
            line += f' [dim]— "{escape(" ".join(v.evidence.split())[:100])}"[/]'
        console.print(line)
    if grade.feedback:
        console.print(escape(grade.feedback))
    if grade.next_step:
        console.print(f"[cyan]next:[/] {escape(grade.next_step)}")
    console.print()


def render_report(console: Console, report: SessionReport) -> None:
    score = "n/a" if report.score is None else f"{report.score:.0%}"
    console.rule(f"Report · session {report.session_id} · score {score}")
    if report.by_topic:
        table = Table("topic", "score")
        for topic, value in report.by_topic.items():
            table.add_row(escape(topic), f"{value:.0%}")
        console.print(table)
    if report.sections:
        table = Table("section", "questions", "score", "time", title="Sections")
        for sec in report.sections:
            table.add_row(escape(sec.name), str(sec.questions), "n/a" if sec.score is None else f"{sec.score:.0%}",
                          f"{clock(sec.seconds)} of {clock(sec.planned_s)}")
        console.print(table)
    for item in report.to_review:
        when = item.get("next_review", "").replace("T", " ").replace("+00:00", " UTC")
        review = f"\n\n[bold]Next review:[/] {escape(when)}" if when else ""
        console.print(Panel(
            f"[bold]Missed:[/] {escape(item['missed'])}\n\n[bold]Model answer:[/] {escape(item['model_answer'])}"
            + review,
            title=escape(item["prompt"][:90]),
            title_align="left",
            border_style="yellow",
        ))
    answered = [t for t in report.turns if t.outcome == "answered" and t.answer.strip()]
    if not answered:
        console.print("Nothing was answered, so there is nothing to grade or review: "
                      "`coach interview` starts a new session.")
    elif not report.to_review:
        console.print("Nothing to review: every key point was covered.")
