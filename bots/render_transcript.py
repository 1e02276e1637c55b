"""A transcript as Markdown, a self-contained HTML page, or plain text steps. Pure functions, shared
by `coach replay`, `coach export`, the Telegram bot (/replay sends the HTML) and MCP."""

from __future__ import annotations

import json
from html import escape as _html_escape

from agent.service import Transcript, TranscriptStep
from bots.safe_text import md_code_block, md_code_span, md_inline, terminal_text


def escape(text: str) -> str:
    """HTML-escaped, quotes included, without control characters (the page may be printed to a terminal)."""
    return _html_escape(terminal_text(text))


MARK = {"covered": "✅", "partial": "🟡", "missing": "❌"}
HTML_MARK = {"covered": "✓", "partial": "~", "missing": "✗"}  # plain glyphs: phones may lack emoji fonts


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


SELF_RATING = {1: "didn't know", 2: "partly", 3: "clear and complete"}


def _self_rated(step: TranscriptStep) -> str:
    """" · self-rated 3 (clear and complete)", beside the grade; empty when not rated."""
    r = step.turn.self_rating
    return f" · self-rated {r} ({SELF_RATING[r]})" if r else ""


def _hinted(step: TranscriptStep, key_point: str) -> str:
    return " (hinted: at most 50%)" if key_point in step.turn.hinted else ""



def question_numbers(t: Transcript) -> dict[int, int]:
    """Each turn's seq -> the number of its main question, counted as the live interview counts
    them (follow-ups do not count; a follow-up carries the number of the question it probes)."""
    numbers: dict[int, int] = {}
    for step in t.steps:
        turn = step.turn
        if turn.follow_up_of is None:
            numbers[turn.seq] = len(set(numbers.values())) + 1
        else:
            numbers[turn.seq] = numbers.get(turn.follow_up_of, turn.follow_up_of)
    return numbers


def _review(step: TranscriptStep) -> str:
    """The grade a review replaced, beside the reviewed one ("" when the grade was not reviewed)."""
    g = step.turn.grade
    if g is None or g.review is None or not g.review.accepted:
        return ""
    r = g.review
    rejected = f"; rejected: {', '.join(v.key_point for v in r.rejected)}" if r.rejected else ""
    return f"reviewed by {r.reviewer} (changed {', '.join(r.accepted)}{rejected}); " \
           f"before: {_score(r.before.score)} by {r.before.grader}"


def _label(step: TranscriptStep, numbers: dict[int, int] | None = None, total: int | None = None) -> str:
    t = step.turn
    number = (numbers or {}).get(t.seq, t.seq)
    if t.follow_up_of:
        return f"Follow-up to #{number}"
    return f"Question {number}/{total} · {t.topic}" if total else f"Question #{number} · {t.topic}"


def step_lines(step: TranscriptStep, numbers: dict[int, int] | None = None, total: int | None = None) -> list[str]:
    """One step as plain text lines (the terminal replay prints these); `numbers` (from
    `question_numbers`) and `total` number the questions as the live interview did."""
    t = step.turn
    lines = [f"{_label(step, numbers, total)} ({t.question_id} v{t.question_version})", f"Q: {t.prompt}"]
    for hint in t.hints:
        lines.append(f"hint: {hint}")
    taken = f" after {step.seconds_taken:.0f} s" if step.seconds_taken is not None else ""
    late = " (late)" if t.late else ""
    lines.append(f"A{taken}{late} [{t.outcome}]: {t.answer or '—'}")
    for run in t.code_runs:
        lines.append(f"code run: {run.status}, {run.passed}/{run.total} tests, {run.duration_ms:.0f} ms")
    if t.grade:
        g = t.grade
        lines.append(f"grade: {_score(g.score)} · rating {g.rating} · by {g.grader}{_self_rated(step)}")
        if _review(step):
            lines.append(_review(step))
        for v in g.verdicts:
            evidence = f' — "{v.evidence}"' if v.evidence else ""
            lines.append(f"  {MARK[v.verdict]} {v.key_point}{_hinted(step, v.key_point)}{evidence}")
        if g.feedback:
            lines.append(f"feedback: {g.feedback}")
    for e in t.guardrail_events:
        lines.append(f"guardrail ({e.kind}): {e.message}")
    if step.tokens:
        lines.append(f"cost: ${step.cost_usd:.4f} · {step.tokens} tokens")
    return lines


def question_total(t: Transcript) -> int:
    """The live interview's "of N": the questions planned, or more when more were asked."""
    return max(t.planned_questions, sum(1 for s in t.steps if s.turn.follow_up_of is None))


def header_lines(t: Transcript) -> list[str]:
    topics = ", ".join(t.topics) or "mixed"
    return [f"Session {t.session_id} · {t.format} · {topics} · {t.status}",
            f"{t.started_at:%Y-%m-%d %H:%M} UTC · graded by {t.engine} · score {_score(t.score)} · "
            f"cost ${t.cost_usd:.4f}"]


def render_text(t: Transcript) -> str:
    numbers, total = question_numbers(t), question_total(t)
    blocks = ["\n".join(header_lines(t))] + ["\n".join(step_lines(s, numbers, total)) for s in t.steps]
    return "\n\n".join(blocks) + "\n"


def _md_paragraphs(text: str) -> list[str]:
    """Each paragraph of `text` escaped, a blank line between them."""
    lines: list[str] = []
    for paragraph in (p for p in text.split("\n\n") if p.strip()):
        lines += [md_inline(paragraph), ""]
    return lines[:-1]


def render_markdown(t: Transcript) -> str:
    """Markdown in which no user or model text can act: answers in fences they cannot close,
    everything else escaped inline (no raw HTML, links or emphasis from an answer)."""
    out = [f"# Interview {md_inline(t.session_id)}", "", *[f"- {md_inline(line)}" for line in header_lines(t)], ""]
    numbers, total = question_numbers(t), question_total(t)
    for s in t.steps:
        turn = s.turn
        out += [f"## {md_inline(_label(s, numbers, total))}", "",
                f"**Question** ({md_inline(turn.question_id)}): {md_inline(turn.prompt)}", ""]
        out += [f"> 💡 {md_inline(h)}" for h in turn.hints]
        out += [f"**Answer** ({md_inline(turn.outcome)}{', late' if turn.late else ''}):", "",
                *md_code_block(turn.answer or ""), ""]
        for run in turn.code_runs:
            out.append(f"- code run: **{md_inline(run.status)}**, {run.passed}/{run.total} tests, {run.duration_ms:.0f} ms")
        if turn.grade:
            g = turn.grade
            out += [f"**Grade:** {_score(g.score)} · rating {g.rating} · graded by {md_inline(g.grader)}{md_inline(_self_rated(s))}", ""]
            out += [f"*{md_inline(_review(s))}*", ""] if _review(s) else []
            out += [f"- {MARK[v.verdict]} {md_code_span(v.key_point)}{_hinted(s, v.key_point)}"
                    + (f' — "{md_inline(v.evidence)}"' if v.evidence else "") for v in g.verdicts]
            if g.feedback:
                out += ["", *_md_paragraphs(g.feedback)]
            if g.model_answer:
                out += ["", "<details><summary>Model answer</summary>", "", *_md_paragraphs(g.model_answer), "",
                        "</details>"]
        out += [f"- guardrail {md_code_span(e.kind)}: {md_inline(e.message)}" for e in turn.guardrail_events]
        if s.tokens:
            out.append(f"- cost ${s.cost_usd:.4f}, {s.tokens} tokens")
        out.append("")
    return "\n".join(out)


CSS = """
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2129}
main{max-width:760px;margin:0 auto;padding:16px}
header{background:#1f3a5f;color:#fff;padding:16px;border-radius:10px}
header h1{margin:0 0 4px;font-size:20px}
.step{background:#fff;border-radius:10px;padding:14px 16px;margin:14px 0;box-shadow:0 1px 3px #0002}
.label{font-size:13px;color:#5b6573;text-transform:uppercase;letter-spacing:.04em}
.q{font-weight:600;margin:6px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f1f3f5;padding:10px;border-radius:6px;font-size:14px}
.score{display:inline-block;font-weight:700;padding:2px 10px;border-radius:12px;background:#e7f0ff}
.v{margin:2px 0}.ev{color:#5b6573;font-style:italic}
details{margin-top:8px}.meta{color:#5b6573;font-size:13px}
.covered{color:#1a7f37}.partial{color:#9a6700}.missing{color:#cf222e}
"""


def render_html(t: Transcript) -> str:
    """One self-contained page: inline CSS, no scripts, no external assets; all content escaped."""
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>Interview {escape(t.session_id)}</title><style>{CSS}</style></head><body><main>",
             f"<header><h1>Interview {escape(t.session_id)}</h1>",
             *[f"<div>{escape(line)}</div>" for line in header_lines(t)], "</header>"]
    numbers, total = question_numbers(t), question_total(t)
    for s in t.steps:
        turn = s.turn
        parts.append(f"<section class='step'><div class='label'>{escape(_label(s, numbers, total))}</div>")
        parts.append(f"<div class='q'>{escape(turn.prompt)}</div>")
        parts += [f"<div class='meta'>hint: {escape(h)}</div>" for h in turn.hints]
        parts.append(f"<div class='meta'>answer · {escape(turn.outcome)}{' · late' if turn.late else ''}</div>")
        parts.append(f"<pre>{escape(turn.answer or '—')}</pre>")
        for run in turn.code_runs:
            parts.append(f"<div class='meta'>code run: {escape(run.status)}, {run.passed}/{run.total} tests</div>")
        if turn.grade:
            g = turn.grade
            parts.append(f"<div><span class='score'>{_score(g.score)}</span> "
                         f"<span class='meta'>rating {g.rating} · graded by {escape(g.grader)}"
                         f"{escape(_self_rated(s))}</span></div>")
            if _review(s):
                parts.append(f"<div class='meta'>{escape(_review(s))}</div>")
            for v in g.verdicts:
                ev = f" <span class='ev'>“{escape(v.evidence)}”</span>" if v.evidence else ""
                parts.append(f"<div class='v'><b class='{v.verdict}'>{HTML_MARK[v.verdict]}</b> "
                             f"{escape(v.key_point)}{escape(_hinted(s, v.key_point))}{ev}</div>")
            if g.feedback:
                parts.append(f"<p>{escape(g.feedback)}</p>")
            if g.model_answer:
                parts.append(f"<details><summary>Model answer</summary><p>{escape(g.model_answer)}</p></details>")
        parts += [f"<div class='meta'>guardrail {escape(e.kind)}: {escape(e.message)}</div>" for e in turn.guardrail_events]
        if s.tokens:
            parts.append(f"<div class='meta'>cost ${s.cost_usd:.4f} · {s.tokens} tokens</div>")
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def render_json(t: Transcript) -> str:
    return json.dumps(t.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "md": render_markdown, "html": render_html, "json": render_json}
