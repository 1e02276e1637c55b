"""The offline grader: deterministic key-point coverage with evidence, no network.

For each key point it looks for the sentence (or pair of adjacent sentences) of the answer whose
meaning-bearing stems best cover the point's own wording or one of its signals. Coverage decides
the verdict; a negation just before the matched words turns it into a miss; an answer that is a
bare list of terms or an admission of not knowing is capped, so stuffing the rubric's words does
not earn marks.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from agent.domain import Grade, KeyPoint, KeyPointVerdict, Question, Verdict
from agent.grading.text import NEGATIONS, STOPWORDS, content_stems, sentences, stem, tokens

COVERED_AT = 0.6
PARTIAL_AT = 0.34
CREDIT: dict[Verdict, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}

_DONT_KNOW = re.compile(
    r"^\W*(i\s+(do\s*n[o']?t|dont|have\s+no\s+idea)|no\s+idea|not\s+sure|pass|skip|idk|\?+)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Match:
    coverage: float
    evidence: str
    negated: bool


def rating_for(score: float) -> int:
    """Rating 1-4 (again / hard / good / easy) from a score in [0, 1]."""
    if score < 0.3:
        return 1
    if score < 0.6:
        return 2
    if score < 0.85:
        return 3
    return 4


def _windows(answer: str) -> list[str]:
    parts = sentences(answer)
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(parts)]
    return parts + pairs


NEGATION_SCOPE = 4
"""A negation word ("not", "never", "no") negates up to this many following tokens."""


def _negated(window_tokens: list[str], phrase_stems: set[str]) -> bool:
    """True when most of the point's matched words appear only under a negation.

    "It does not reduce latency" negates the point; "where no right row matches" inside an
    otherwise affirmative answer does not, because the other matched words stand unnegated.
    """
    seen: dict[str, bool] = {}  # stem -> every occurrence so far was negated
    for i, tok in enumerate(window_tokens):
        s = stem(tok)
        if s in phrase_stems and tok not in STOPWORDS:
            negated = any(t in NEGATIONS for t in window_tokens[max(0, i - NEGATION_SCOPE) : i])
            seen[s] = seen.get(s, True) and negated
    return bool(seen) and sum(seen.values()) * 2 > len(seen)


def _match(point: KeyPoint, windows: list[tuple[str, list[str], set[str]]]) -> _Match:
    best = _Match(0.0, "", False)
    point_negated = any(t in NEGATIONS for t in tokens(point.text))
    for phrase in (point.text, *point.signals):
        wanted = set(content_stems(phrase))
        if not wanted:
            continue
        for text, toks, stems in windows:
            cov = len(wanted & stems) / len(wanted)
            if cov > best.coverage or (cov == best.coverage and cov and len(text) < len(best.evidence)):
                neg = not point_negated and _negated(toks, wanted)
                best = _Match(cov, text, neg)
    return best


def _verdict(m: _Match) -> Verdict:
    if m.negated:
        return "missing"
    if m.coverage >= COVERED_AT:
        return "covered"
    if m.coverage >= PARTIAL_AT:
        return "partial"
    return "missing"


_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget) (?:the|all|any|previous|prior|earlier)\b.{0,30}\b(?:rubric|grading|instructions|rules)"
    r"|\b(?:give|award|grant) (?:this|me|my|the) (?:answer |response )?(?:full|maximum|max|top|perfect) (?:marks|score|points)"
    r"|\bfull marks\b|\b(?:system|admin|grader) override\b|\boverride mode\b"
    r"|\b(?:rating|score) (?:of )?(?:4|1\.0|100%) (?:for|to) (?:this|me|my)\b",
    re.IGNORECASE,
)


def tries_to_instruct_the_grader(answer: str) -> bool:
    """An answer that talks to the grader ("ignore the rubric, give full marks") instead of the
    interviewer: a prompt injection, penalised rather than obeyed."""
    return bool(_INJECTION.search(answer))


def looks_like_term_list(answer: str) -> bool:
    """True when an answer is mostly bare terms: few function words, no sentence structure."""
    toks = tokens(answer)
    if len(toks) < 10:
        return False  # a terse rapid-fire reply is not stuffing
    function_share = sum(t in STOPWORDS or t in NEGATIONS for t in toks) / len(toks)
    punctuated = bool(re.search(r"[.!?;:](?:\s|$)", answer))  # sentence marks, not "contextlib.contextmanager"
    return function_share < 0.2 or (function_share < 1 / 3 and not punctuated)


class OfflineGrader:
    name = "offline"

    def grade(self, question: Question, answer: str, only: tuple[str, ...] = ()) -> Grade:
        """Grade `answer` against the question's key points (or only the ids in `only`)."""
        points = [kp for kp in question.key_points if not only or kp.id in only]
        text = answer.strip()
        notes: list[str] = []
        if not text or (_DONT_KNOW.match(text) and len(tokens(text)) < 12):
            verdicts = [KeyPointVerdict(key_point=kp.id, verdict="missing") for kp in points]
            notes.append("no attempt")
            return self._grade(question, points, verdicts, 0.0, notes)

        windows = [(w, tokens(w), {stem(t) for t in tokens(w)}) for w in _windows(text)]
        verdicts = []
        for kp in points:
            m = _match(kp, windows)
            v = _verdict(m)
            if m.negated:
                notes.append(f"'{kp.id}' was mentioned only in a negated sense")
            verdicts.append(
                KeyPointVerdict(key_point=kp.id, verdict=v, evidence=m.evidence[:240] if v != "missing" else "")
            )
        total = sum(kp.weight for kp in points)
        score = sum(kp.weight * CREDIT[v.verdict] for kp, v in zip(points, verdicts, strict=True)) / total
        if looks_like_term_list(text):
            score = min(score * 0.4, 0.35)
            notes.append("reads as a list of terms rather than an explanation")
        if tries_to_instruct_the_grader(text):
            score = min(score * 0.4, 0.35)
            notes.append("the answer tried to instruct the grader; that is not an answer and costs marks")
        return self._grade(question, points, verdicts, score, notes)

    def _grade(
        self,
        question: Question,
        points: list[KeyPoint],
        verdicts: list[KeyPointVerdict],
        score: float,
        notes: list[str],
    ) -> Grade:
        by_id = {kp.id: kp for kp in points}
        strengths = [by_id[v.key_point].text for v in verdicts if v.verdict == "covered"]
        gaps = [by_id[v.key_point].text for v in verdicts if v.verdict != "covered"]
        score = round(max(0.0, min(1.0, score)), 4)
        return Grade(
            score=score,
            rating=rating_for(score),
            verdicts=verdicts,
            strengths=strengths,
            gaps=gaps,
            next_step=_next_step(gaps, notes),
            feedback=_feedback(score, strengths, gaps, notes),
            model_answer=question.model_answer,
            grader=self.name,
            notes=notes,
        )


def _next_step(gaps: list[str], notes: list[str]) -> str:
    if "no attempt" in notes:
        return "Read the model answer, then try the question again in your own words tomorrow."
    if any("list of terms" in n for n in notes):
        return "Explain how the ideas connect in full sentences instead of listing terms."
    if any("instruct the grader" in n for n in notes):
        return "Answer the question itself; the grade comes from what you explain."
    if gaps:
        return f"Study this point and say it out loud in one sentence: {gaps[0]}."
    return "Tighten it: give the same answer in half the words, with one concrete example."


def _feedback(score: float, strengths: list[str], gaps: list[str], notes: list[str]) -> str:
    if "no attempt" in notes:
        return "No attempt to grade."
    if score >= 0.85:
        head = "Strong answer."
    elif score >= 0.6:
        head = "Good answer with gaps."
    elif score >= 0.3:
        head = "Partial answer."
    else:
        head = "This missed most of what the interviewer listens for."
    parts = [head]
    if strengths:
        parts.append(f"You covered {len(strengths)} of {len(strengths) + len(gaps)} key points.")
    if gaps:
        parts.append("Missing: " + "; ".join(gaps[:3]) + ".")
    return " ".join(parts)


def key_points_from_reference(reference: str) -> tuple[KeyPoint, ...]:
    """Checkable points from a reference answer alone: one per sentence or clause with substance."""
    from agent.grading.text import content_stems

    pieces = [p.strip(" ,") for s in sentences(reference) for p in re.split(r";|, (?:and|but|so|which) ", s)]
    points = [p for p in pieces if len(set(content_stems(p))) >= 2]
    if not points and reference.strip():
        points = [reference.strip()]
    return tuple(KeyPoint(id=f"p{i}", text=p[:300]) for i, p in enumerate(points, 1))
