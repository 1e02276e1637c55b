"""Telegram rendering: the service's results as escaped HTML, split to fit Telegram's limit.

Telegram counts message length in UTF-16 code units (4096 at most) and rejects a message whose
HTML does not parse. Splitting prefers line breaks, then spaces; it never cuts inside a tag or an
entity, and a tag open at a cut is closed there and reopened in the next part.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape

from agent.domain import Prompt, SessionReport, Turn
from bots.countdown import clock

LIMIT = 4096
MARK = {"covered": "✅", "partial": "🟡", "missing": "❌"}
RATING = {1: "again", 2: "hard", 3: "good", 4: "easy"}
SELF_RATING = {1: "didn't know", 2: "partly", 3: "clear and complete"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(html: str, limit: int = LIMIT) -> list[str]:
    """Parts of at most `limit` UTF-16 units, each valid HTML on its own.

    Whole lines are packed into a part while they fit; a line too long on its own is cut at the
    last space past half a part (else between two characters), never inside a tag or an entity.
    Tags open at a cut are closed at the end of the part and opened again at the start of the next.
    """
    if utf16_len(html) <= limit:
        return [html] if _TAG.sub("", html).strip() else []
    parts: list[str] = []
    start: list[tuple[str, str]] = []  # the tags open where the current part starts
    stack: list[tuple[str, str]] = []  # ... and after its last line
    lines: list[str] = []
    size = 0
    for line in html.split("\n"):
        after = _apply_tags(stack, line)
        grown = size + (1 if lines else 0) + _units(line)
        if grown + _closing_len(after) <= limit:
            lines.append(line)
            size, stack = grown, after
            continue
        if lines:
            _emit(parts, start, "\n".join(lines), stack)
        start, lines = stack, []
        opening = _units(_opening(start))
        if opening + _units(line) + _closing_len(after) <= limit:
            lines, size, stack = [line], opening + _units(line), after
        else:  # one line longer than a part: cut it between words (or characters)
            stack = _split_line(parts, line, start, limit)
            start, size = stack, _units(_opening(stack))
    if lines:
        _emit(parts, start, "\n".join(lines), stack)
    return parts


def _split_line(parts: list[str], line: str, stack: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """Append `line` as parts, starting with the tags in `stack` open; the tags open after it."""
    atoms = list(_atoms(line, limit))
    i = 0
    while i < len(atoms):
        size, open_now, j, space = _units(_opening(stack)), stack, i, None
        while j < len(atoms):
            after = _apply(open_now, atoms[j])
            grown = size + _units(atoms[j])
            if grown + _closing_len(after) > limit and j > i:
                break
            size, open_now = grown, after
            if atoms[j] == " " and size > limit // 2:
                space = (j, open_now)
            j += 1
        if j < len(atoms) and space is not None:
            cut, rest, end = space[0], space[0] + 1, space[1]  # the space itself is dropped
        else:
            cut, rest, end = j, j, open_now
        _emit(parts, stack, "".join(atoms[i:cut]), end)
        stack, i = end, rest
    return stack


def _emit(parts: list[str], start: list[tuple[str, str]], body: str, end: list[tuple[str, str]]) -> None:
    part = (_opening(start) + body + _closing(end)).strip("\n ")
    if _TAG.sub("", part).strip():
        parts.append(part)


def _opening(stack: list[tuple[str, str]]) -> str:
    return "".join(tag for _, tag in stack)


def _apply_tags(stack: list[tuple[str, str]], text: str) -> list[tuple[str, str]]:
    for tag in _TAG.findall(text):
        stack = _apply(stack, tag)
    return stack


_TOKEN = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;|\n| |[^<&\n ]+|[<&]")
_TAG = re.compile(r"<[^<>]*>")
_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


def _atoms(html: str, limit: int) -> Iterator[str]:
    """Tags, entities, line breaks, spaces and words; a word too long to place whole, as characters."""
    for atom in _TOKEN.findall(html):
        if len(atom) > limit // 4 and atom[0] not in "<&":
            yield from atom
        else:
            yield atom


def _units(text: str) -> int:
    return len(text) if text.isascii() else utf16_len(text)


def _apply(stack: list[tuple[str, str]], atom: str) -> list[tuple[str, str]]:
    """The open-tag stack after `atom`; unchanged (the same list) for text."""
    if not atom.startswith("<") or len(atom) < 3:
        return stack
    match = _NAME.match(atom)
    if match is None:
        return stack
    name = match.group(1).lower()
    if atom.startswith("</"):
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][0] == name:
                return stack[:k]
        return stack
    if atom.endswith("/>"):
        return stack
    return [*stack, (name, atom)]


def _closing(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _closing_len(stack: list[tuple[str, str]]) -> int:
    return sum(len(name) + 3 for name, _ in stack)


def prompt_html(prompt: Prompt, hints: list[str] | None = None) -> str:
    label = "Follow-up" if prompt.is_follow_up else f"Question {prompt.number}/{prompt.total}"
    if prompt.is_review and not prompt.is_follow_up:
        label = f"🔁 Review · {label}"
    budget = f" · ⏱ {clock(prompt.time_budget_s)}" if prompt.time_budget_s else ""
    lines = [f"<b>{label}</b> · {escape(prompt.topic)} · {escape(prompt.kind.replace('_', ' '))}{budget}", "",
             escape(prompt.text)]
    if prompt.sections and prompt.sections > 1 and prompt.section:
        lines.insert(0, f"<i>Section {prompt.section_number}/{prompt.sections} · {escape(prompt.section)} · "
                        f"{clock(prompt.elapsed_s or 0)} elapsed of {clock(prompt.planned_s or 0)}</i>")
    if prompt.is_review and not prompt.is_follow_up:
        lines += ["", "<i>A review: you missed this one before, so it came back.</i>"]
    if prompt.time_budget_s and not prompt.is_follow_up:
        lines += ["", f"<i>⏱ about {max(1, prompt.time_budget_s // 60)} min · /hint /skip /end</i>"]
    for hint in hints or []:
        lines += ["", f"💡 <i>{escape(hint)}</i>"]
    return "\n".join(lines)


def grade_html(turn: Turn) -> str:
    grade = turn.grade
    if grade is None:
        return ""
    head = "⏭ Skipped" if turn.outcome == "skipped" else f"<b>Score {grade.score:.0%}</b> · {RATING[grade.rating]}"
    if turn.late:
        head += " · <i>answered late</i>"
    if turn.self_rating:
        head += f" · you rated it {turn.self_rating} ({SELF_RATING[turn.self_rating]})"
    lines = [head]
    for v in grade.verdicts:
        line = f"{MARK[v.verdict]} {escape(v.key_point.replace('_', ' '))}"
        if v.key_point in turn.hinted:
            line += " <i>(hinted: at most 50%)</i>"
        if v.evidence:
            line += f' — <i>"{escape(" ".join(v.evidence.split())[:160])}"</i>'
        lines.append(line)
    if grade.feedback:
        lines += ["", escape(grade.feedback)]
    if grade.next_step:
        lines.append(f"➡️ {escape(grade.next_step)}")
    return "\n".join(lines)


def report_html(report: SessionReport) -> str:
    score = "n/a" if report.score is None else f"{report.score:.0%}"
    lines = [f"<b>Interview over</b> · score {score}"]
    for topic, value in report.by_topic.items():
        lines.append(f"• {escape(topic)}: {value:.0%}")
    for sec in report.sections:
        score = "n/a" if sec.score is None else f"{sec.score:.0%}"
        lines.append(f"▸ {escape(sec.name)}: {sec.questions} question(s), {score}, "
                     f"{clock(sec.seconds)} of {clock(sec.planned_s)}")
    for item in report.to_review:
        lines += ["", f"<b>{escape(item['prompt'])}</b>", f"Missed: {escape(item['missed'])}",
                  f"<i>Model answer:</i> {escape(item['model_answer'])}"]
        if item.get("next_review"):
            when = item["next_review"].replace("T", " ").replace("+00:00", " UTC")
            lines.append(f"🔁 Next review: {escape(when)}")
    lines += ["", "/progress shows your weak topics · /interview starts another"]
    return "\n".join(lines)
