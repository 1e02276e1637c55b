"""Telegram rendering: the service's results as escaped HTML, split to fit Telegram's limit.

Telegram counts message length in UTF-16 code units (4096 at most) and rejects a message whose
HTML does not parse. Splitting prefers line breaks, then spaces; it never cuts inside a tag or an
entity, and a tag open at a cut is closed there and reopened in the next part.
"""

from __future__ import annotations

import re
from html import escape

from agent.domain import Prompt, SessionReport, Turn

LIMIT = 4096
MARK = {"covered": "✅", "partial": "🟡", "missing": "❌"}
RATING = {1: "again", 2: "hard", 3: "good", 4: "easy"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(html: str, limit: int = LIMIT) -> list[str]:
    """Parts of at most `limit` UTF-16 units, each valid HTML on its own.

    Cuts go at the last line break that fits (else the last space past half the part, else
    anywhere between two characters), never inside a tag or an entity. Tags open at a cut are
    closed at the end of the part and opened again at the start of the next one.
    """
    atoms = _TOKEN.findall(html)
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag) of the tags open where the part starts
    i = 0
    while i < len(atoms):
        opening = "".join(tag for _, tag in stack)
        size, open_now, j = utf16_len(opening), list(stack), i
        newline = space = None
        while j < len(atoms):
            after = _apply(open_now, atoms[j])
            grown = size + utf16_len(atoms[j])
            if grown + _closing_len(after) > limit and j > i:
                break
            size, open_now = grown, after
            if atoms[j] == "\n":
                newline = (j, open_now)
            elif atoms[j] == " " and size > limit // 2:
                space = (j, open_now)
            j += 1
        if j == len(atoms):
            cut, rest, stack_at = j, j, open_now
        elif newline or space:
            at, stack_at = newline or space  # type: ignore[misc]
            cut, rest = at, at + 1  # the break itself is dropped
        else:
            cut, rest, stack_at = j, j, open_now
        part = opening + "".join(atoms[i:cut]) + _closing(stack_at)
        if _TAG.sub("", part).strip():
            parts.append(part.strip("\n "))
        stack, i = stack_at, rest
    return parts


_TOKEN = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;|[^<&]", re.S)
_TAG = re.compile(r"<[^<>]*>")
_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


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
    lines = [f"<b>{label}</b> · {escape(prompt.topic)} · {escape(prompt.kind.replace('_', ' '))}", "",
             escape(prompt.text)]
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
    lines = [head]
    for v in grade.verdicts:
        line = f"{MARK[v.verdict]} {escape(v.key_point.replace('_', ' '))}"
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
    for item in report.to_review:
        lines += ["", f"<b>{escape(item['prompt'])}</b>", f"Missed: {escape(item['missed'])}",
                  f"<i>Model answer:</i> {escape(item['model_answer'])}"]
    lines += ["", "/progress shows your weak topics · /interview starts another"]
    return "\n".join(lines)
