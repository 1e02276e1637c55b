"""Explicit structure in an answer: labelled STAR sections, numbered steps, estimates with numbers.

Why: a candidate who writes "Result: p95 latency fell by about 40 percent" has told the grader
which rubric point that sentence answers. Matching words alone can miss it (the rubric says
"result with a concrete outcome"), so labels are honoured directly, and a design answer that gives
numbers with units is credited for its estimate even when it shares no words with the rubric's.
"""

from __future__ import annotations

import re

STAR_LABELS: dict[str, tuple[str, ...]] = {
    "situation": ("situation", "context", "background"),
    "task": ("task", "goal", "my role", "responsibility"),
    "action": ("action", "actions", "what i did"),
    "result": ("result", "results", "outcome", "impact"),
    "learning": ("learning", "learnings", "lesson", "lessons", "what i learned", "reflection"),
}
_LABEL = re.compile(
    r"(?:^|(?<=[\n.!?;])\s*|\s)(?P<label>" + "|".join(sorted(
        {re.escape(w) for ws in STAR_LABELS.values() for w in ws}, key=len, reverse=True))
    + r")\s*(?:\([^)]{0,20}\))?\s*[:\u2013\u2014-]\s+", re.IGNORECASE)

_STEP = re.compile(r"(?:(?<=\s)|^)(?:\(?\d{1,2}[.)]|step \d{1,2}:?|first(?:ly)?,|second(?:ly)?,|third(?:ly)?,"
                   r"|then,|finally,)\s+", re.IGNORECASE)

ESTIMATE_POINT = re.compile(r"\bestimat|\bback[- ]of[- ]the[- ]envelope|\bcapacity\b|\bsizing\b", re.IGNORECASE)
_QUANTITY = re.compile(
    r"\b\d[\d,.]*\s*(?:%|percent|k\b|m\b|b\b|x\b|kb|mb|gb|tb|pb|tbps|gbps|qps|rps|ms\b|s\b|thousand|million|billion"
    r"|trillion|bytes?|tokens?|requests?|users?|messages?|pages?|nodes?|servers?|gpus?|pools?|shards?|replicas?"
    r"|hours?|days?|seconds?|minutes?|months?|a second|per second|a day|per day|dollars?)"
    r"|\$\s?\d", re.IGNORECASE)


def star_sections(answer: str) -> dict[str, str]:
    """The text after each explicit STAR label ("Result: ..."), up to the next label."""
    marks = [(m.start("label"), m.end(), _canonical_label(m.group("label"))) for m in _LABEL.finditer(answer)]
    sections: dict[str, str] = {}
    for i, (_, end, label) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else len(answer)
        text = answer[end:stop].strip()
        if label and text:
            sections[label] = (sections.get(label, "") + " " + text).strip()
    return sections


def _canonical_label(word: str) -> str:
    word = word.lower()
    return next((label for label, words in STAR_LABELS.items() if word in words), "")


def star_label_of(point_id: str, point_text: str) -> str:
    """Which STAR section a behavioural key point asks for, if any ("result" for id `result`)."""
    for candidate in (point_id.lower(), point_text.lower().split(" ", 1)[0]):
        if candidate in STAR_LABELS:
            return candidate
    return ""


def split_steps(sentence: str) -> list[str]:
    """Inline numbered steps ("1) shard it 2) cache it") as separate pieces."""
    parts = [p.strip(" ,;") for p in _STEP.split(sentence)]
    return [p for p in parts if p]


def quantities(text: str) -> list[str]:
    """Numbers with a unit or a countable noun: the stuff of an estimate."""
    return [m.group(0) for m in _QUANTITY.finditer(text)]


_CLAUSE = re.compile(r",\s+(?:and|while|whereas|but)\s+|,\s+(?=\w+\s+(?:is|are|means)\s)|;\s+|\s+(?:whereas|but)\s+|\s+while\s+(?=\w+\s+(?:is|are|means|gives|runs))",
                     re.IGNORECASE)


def split_clauses(sentence: str) -> list[str]:
    """Clauses that each bind one definition to one term ("X is A, while Y is B" -> two)."""
    parts = [p.strip(" ,;") for p in _CLAUSE.split(sentence)]
    return [p for p in parts if p]


_COMPARED = (
    re.compile(r"difference between (?:an? |the )?(.+?) and (?:an? |the )?(.+?)(?:[?.,]|$)", re.IGNORECASE),
    re.compile(r"(\w[\w-]*) (?:vs\.?|versus) (\w[\w-]*)", re.IGNORECASE),
    re.compile(r"\b(\w+)-(\w+) trade-?off", re.IGNORECASE),
    re.compile(r"\bcompare (?:an? |the )?(.+?) (?:and|with) (?:an? |the )?(.+?)(?:[?.,]|$)", re.IGNORECASE),
)


def compared_terms(prompt: str) -> list[tuple[str, str]]:
    """The two things a question asks the candidate to tell apart."""
    return [(m.group(1), m.group(2)) for pattern in _COMPARED for m in pattern.finditer(prompt)]
