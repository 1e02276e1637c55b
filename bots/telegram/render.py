"""Telegram rendering: the service's results as escaped HTML, split to fit Telegram's limit.

Telegram counts message length in UTF-16 code units (4096 at most). Splitting happens on line
breaks, so every tag opened on a line closes on it; a line too long on its own is split at
spaces, never inside an HTML entity.
"""

from __future__ import annotations

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
    """Chunks of at most `limit` UTF-16 units, cut at line breaks (or spaces in a huge line)."""
    chunks: list[str] = []
    current = ""
    for line in _fit_lines(html.split("\n"), limit):
        candidate = f"{current}\n{line}" if current else line
        if utf16_len(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = line
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def _fit_lines(lines: list[str], limit: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        while utf16_len(line) > limit:
            cut = _cut_point(line, limit)
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return out


def _cut_point(line: str, limit: int) -> int:
    end = limit
    while utf16_len(line[:end]) > limit:
        end -= 1
    space = line.rfind(" ", 0, end)
    cut = space if space > limit // 2 else end
    amp = line.rfind("&", 0, cut)
    if amp != -1 and ";" not in line[amp:cut]:
        cut = amp  # never split "&amp;" and friends
    return cut


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
