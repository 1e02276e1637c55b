"""The offline grader: deterministic, CPU-only, no network; continuous key-point credit with evidence.

For each key point it finds the sentence (or pair of adjacent sentences) of the answer that best
states the point or one of its signals, by soft matching over static word vectors and a combiner
learned from human grades (`matching.py`). The score is the rubric-weighted mean of those credits,
so it moves by degree rather than in three steps. Rules that overlap cannot see still apply: a
negated point earns nothing, a definition bound to the opposite term earns nothing, labelled STAR
sections and estimates with numbers are honoured; an answer that is a bare list of terms, an
injection aimed at the grader, or an admission of not knowing is capped.

A follow-up answer can be graded together with what the candidate said earlier on the same
question (`prior_answers`): points stated before still count, with the earlier sentence as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.domain import Grade, KeyPoint, KeyPointVerdict, Question, Verdict
from agent.grading import structure
from agent.grading.features import words_of
from agent.grading.matching import AnswerIndex, PointMatch, RubricPoint, match_point, rubric_opposites
from agent.grading.text import NEGATIONS, STOPWORDS, sentences, tokens

COVERED_AT = 0.75
PARTIAL_AT = 0.35
CREDIT: dict[Verdict, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}

_DONT_KNOW = re.compile(
    r"^\W*(i\s+(do\s*n[o']?t|dont|have\s+no\s+idea)|no\s+idea|not\s+sure|pass|skip|idk|\?+)\b",
    re.IGNORECASE,
)


def rating_for(score: float) -> int:
    """Rating 1-4 (again / hard / good / easy) from a score in [0, 1]."""
    if score < 0.3:
        return 1
    if score < 0.6:
        return 2
    if score < 0.85:
        return 3
    return 4


def verdict_for(credit: float) -> Verdict:
    """The coarse verdict the interviewer and the report speak in, from a continuous credit."""
    if credit >= COVERED_AT:
        return "covered"
    if credit >= PARTIAL_AT:
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


GLUE_WORDS = frozenset(["a", "an", "the", "of", "to", "in", "is", "are", "and", "or", "for", "on", "by", "it", "be", "as", "at", "so", "if", "we", "i"])
"""The short words every English sentence needs: a list of terms with them stripped has none."""


def looks_like_term_list(answer: str) -> bool:
    """True when an answer is mostly bare terms: few function words, no sentence structure."""
    toks = tokens(answer)
    if len(toks) < 10:
        return False  # a terse rapid-fire reply is not stuffing
    function_share = sum(t in STOPWORDS or t in NEGATIONS for t in toks) / len(toks)
    if len(toks) >= 15 and sum(t in GLUE_WORDS for t in toks) / len(toks) < 0.02:
        return True  # English, however terse, keeps its "a", "the", "of", "to", "is" somewhere
    punctuated = bool(re.search(r"[.!?;:](?:\s|$)", answer))  # sentence marks, not "contextlib.contextmanager"
    # Terse but real sentences ("Offline evaluation scores a fixed set before release.") have few
    # function words too; only a near-absence of them condemns a punctuated answer.
    if len(sentences(answer)) >= 2:
        return function_share < 0.05
    return function_share < 0.2 or (function_share < 1 / 3 and not punctuated)


def capped_for_form(answer: str, score: float, notes: list[str]) -> float:
    """The score after the caps on what is not an explanation: a bare list of terms, or words
    aimed at the grader. Each cap that applies adds its note."""
    if looks_like_term_list(answer):
        score = min(score * 0.4, 0.35)
        notes.append("reads as a list of terms rather than an explanation")
    if tries_to_instruct_the_grader(answer):
        score = min(score * 0.4, 0.35)
        notes.append("the answer tried to instruct the grader; that is not an answer and costs marks")
    return score


def is_no_attempt(answer: str) -> bool:
    """Empty, or a short admission of not knowing ("I don't know", "no idea", "??")."""
    text = answer.strip()
    return not text or (bool(_DONT_KNOW.match(text)) and len(tokens(text)) < 12)


def _points(question: Question, only: Sequence[str] = ()) -> list[KeyPoint]:
    return [kp for kp in question.key_points if not only or kp.id in only]


def match_key_points(question: Question, answer: str, prior_answers: Sequence[str] = (),
                     only: Sequence[str] = ()) -> dict[str, PointMatch]:
    """Credit and evidence for each key point from the answer and what was said before it.

    Earlier answers on the same question count: a point stated in the first answer is not lost
    because the follow-up answered a different point.
    """
    points = [RubricPoint(kp.id, kp.text, kp.weight, kp.signals) for kp in _points(question, only)]
    rubric = [question.prompt, *(kp.text for kp in question.key_points)]
    return match_points(points, question.prompt, answer, prior_answers, rubric)


def match_points(points: Sequence[RubricPoint], prompt: str, answer: str, prior_answers: Sequence[str] = (),
                 rubric: Sequence[str] = ()) -> dict[str, PointMatch]:
    """`match_key_points` for any list of points (graded data may have one-word points)."""
    texts = [t for t in (*prior_answers, answer) if t and t.strip() and not is_no_attempt(t)]
    if not texts:
        return {p.id: PointMatch(0.0, "") for p in points}
    index = AnswerIndex.of(texts)
    star: dict[str, str] = {}
    for t in texts:
        for label, section in structure.star_sections(t).items():
            star[label] = (star.get(label, "") + " " + section).strip()
    q = words_of(prompt)
    opposites = rubric_opposites(list(rubric) or [prompt, *(p.text for p in points)], prompt)
    context = (q, tuple(sorted(opposites.items())), tuple(sorted(star.items())))
    matches = {}
    for p in points:
        # match_point is a pure function of these inputs; the index keeps its results, so the
        # same answer matched again in one action (grade, then stated points) costs a lookup.
        key = (p, context)
        if key not in index.matches:
            index.matches[key] = match_point(p, index, q, opposites, star)
        matches[p.id] = index.matches[key]
    # A sentence that states one point bound to the wrong term ("recall is the share of flagged
    # items that are positive") cannot also earn the point it really describes.
    misbound = {m.misbound for m in matches.values() if m.misbound}
    return {pid: PointMatch(0.0, "", "swapped") if m.evidence in misbound and m.credit > 0 else m
            for pid, m in matches.items()}


def stated_key_points(question: Question, answer: str, prior_answers: Sequence[str] = ()) -> list[str]:
    """Ids of the key points the candidate has already stated (covered), in rubric order.

    The interviewer asks this before probing, so it never probes a point already stated, in this
    answer or an earlier one on the same question.
    """
    matches = match_key_points(question, answer, prior_answers)
    return [kp.id for kp in question.key_points if verdict_for(matches[kp.id].credit) == "covered"]


class OfflineGrader:
    name = "offline"

    def grade(self, question: Question, answer: str, only: tuple[str, ...] = (),
              prior_answers: Sequence[str] = ()) -> Grade:
        """Grade `answer` against the question's key points (or only the ids in `only`).

        `prior_answers`: what the candidate said earlier on this question (a follow-up's main
        answer); points stated there count too.
        """
        points = _points(question, only)
        text = answer.strip()
        notes: list[str] = []
        if is_no_attempt(text) and not any(p.strip() and not is_no_attempt(p) for p in prior_answers):
            verdicts = [KeyPointVerdict(key_point=kp.id, verdict="missing") for kp in points]
            notes.append("no attempt")
            return self._grade(question, points, verdicts, 0.0, notes)
        # Sentences that talk to the grader are not part of the answer: they earn nothing, even by
        # accident of shared words, and the whole answer is capped below.
        content = " ".join(s for s in sentences(text) if not tries_to_instruct_the_grader(s))
        matches = match_key_points(question, content, prior_answers, only)
        verdicts = []
        for kp in points:
            m = matches[kp.id]
            v = verdict_for(m.credit)
            if m.reason == "negated":
                notes.append(f"'{kp.id}' was mentioned only in a negated sense")
            elif m.reason == "swapped":
                notes.append(f"'{kp.id}': the definition was given for the opposite term")
            verdicts.append(KeyPointVerdict(key_point=kp.id, verdict=v,
                                            evidence=m.evidence[:240] if v != "missing" else ""))
        total = sum(kp.weight for kp in points)
        score = sum(kp.weight * matches[kp.id].credit for kp in points) / total
        score = capped_for_form(text, score, notes)
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
