"""Reading graded-answer records (JSON lines) without letting one bad line stop the rest.

Why: real data has a stray line, a record without an answer, a number where text should be. Each
problem is reported once with its line number; everything else is graded.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from agent.grading.matching import RubricPoint


@dataclass
class GradedRecord:
    line: int
    question: str
    answer: str
    reference: str = ""
    alternates: list[str] = field(default_factory=list)
    key_points: list[RubricPoint] = field(default_factory=list)
    human_score: float | None = None
    meta: dict = field(default_factory=dict)


class RecordError(ValueError):
    """A record that truly cannot be graded; the message names what is wrong."""


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _point(i: int, raw: object) -> RubricPoint:
    if isinstance(raw, str) and raw.strip():
        return RubricPoint(f"k{i}", raw.strip())
    if isinstance(raw, dict) and _text(raw.get("text")):
        weight = raw.get("weight", 1.0)
        signals = tuple(s for s in raw.get("signals") or () if isinstance(s, str) and s.strip())
        return RubricPoint(str(raw.get("id") or f"k{i}"), _text(raw["text"]),
                           float(weight) if isinstance(weight, int | float) and weight > 0 else 1.0, signals)
    raise RecordError(f"key point {i} has no text")


def parse_record(n: int, line: str) -> GradedRecord:
    try:
        record = json.loads(line)
    except ValueError:
        raise RecordError("not valid JSON") from None
    if not isinstance(record, dict):
        raise RecordError("a record must be a JSON object")
    answer = _text(record.get("answer"))
    if not answer:
        raise RecordError('needs a non-empty "answer" string')
    raw_points = record.get("key_points") or []
    if not isinstance(raw_points, list):
        raise RecordError("key_points must be a list")
    points = [_point(i, p) for i, p in enumerate(raw_points, 1)]
    reference = _text(record.get("reference_answer"))
    if not points and not reference:
        raise RecordError("give key_points or a reference_answer")
    alternates = []
    for alt in record.get("reference_answers") or []:
        text = _text(alt.get("text")) if isinstance(alt, dict) else _text(alt)
        if text and not (isinstance(alt, dict) and alt.get("category") == "KEYWORD"):
            alternates.append(text)
    human = record.get("human_score")
    human = float(human) if isinstance(human, int | float) and not isinstance(human, bool) else None
    if human is not None and not math.isfinite(human):
        raise RecordError("human_score must be a finite number")
    meta = {k: record[k] for k in ("id", "dataset", "split") if k in record}
    return GradedRecord(n, _text(record.get("question")), answer, reference, alternates, points, human, meta)


def read_records(path: Path) -> tuple[list[GradedRecord], list[str]]:
    """Records that can be graded, and one message per line that cannot."""
    records, problems = [], []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:  # strictly: a guessed decoding would grade mojibake as if it were the answer
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as err:
                problems.append(f"line {n}: not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as UTF-8")
                continue
            if not line.strip():
                continue
            try:
                records.append(parse_record(n, line))
            except RecordError as err:
                problems.append(f"line {n}: {err}")
    return records, problems
