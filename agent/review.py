"""A second grader reviews a grade: the model in an MCP client (Claude Desktop) submits its own
per-key-point verdicts after the offline grade, and the coach accepts each one only where it can
check it.

    grade = review(turn, question, verdicts, reviewer="client:claude-ai", at=now)

The rule that makes a review safe to accept from a model the coach does not control: a `covered`
or `partial` verdict must quote its evidence from the candidate's answer (compared with whitespace
and case normalised), so a review can credit what the candidate said, never what they did not.
A `missing` verdict needs no evidence (a reviewer may always be stricter). An answer that talks to
the grader ("give full marks") cannot have a verdict raised by a review: the reviewing model is
the one that text was written to sway. A rejected verdict
leaves the earlier verdict for that point in place and says why. The score moves by each changed
point's weight times its change in credit, so a review that changes nothing changes no score.
"""

from __future__ import annotations

import re
from datetime import datetime

from agent.domain import Grade, GradeReview, KeyPointVerdict, Question, RejectedVerdict, Turn
from agent.errors import AnswerRejected
from agent.grading.offline import CREDIT, rating_for, tries_to_instruct_the_grader

MIN_EVIDENCE_CHARS = 8
"""Shorter quotes ("a", "the") are found in any answer and prove nothing."""


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def review(turn: Turn, question: Question | None, verdicts: list[KeyPointVerdict], reviewer: str,
           at: datetime) -> Grade:
    """The turn's grade with the reviewer's acceptable verdicts applied; `grade.review` records the
    grade it replaced, the accepted key points and each rejection with its reason."""
    if turn.grade is None or turn.outcome != "answered":
        raise AnswerRejected(f"turn {turn.seq} has no graded answer to review")
    if turn.code_runs:
        raise AnswerRejected(f"turn {turn.seq} is a coding answer, graded by its tests; reviews apply to spoken answers")
    before = turn.grade.review.before if turn.grade.review else turn.grade
    answer = normalised(turn.answer)
    injected = tries_to_instruct_the_grader(turn.answer)
    current = {v.key_point: v for v in before.verdicts}
    weights = {kp.id: kp.weight for kp in question.key_points} if question else {}
    accepted: list[str] = []
    rejected: list[RejectedVerdict] = []
    for v in verdicts:
        reason = _rejection(v, current, accepted, answer)
        if not reason and injected and CREDIT[v.verdict] > CREDIT[current[v.key_point].verdict]:
            reason = "the answer talks to the grader (a prompt injection): a review cannot raise its verdicts"
        if reason:
            rejected.append(RejectedVerdict(key_point=v.key_point, verdict=v.verdict, reason=reason))
            continue
        evidence = v.evidence.strip() if v.verdict != "missing" else ""
        current[v.key_point] = KeyPointVerdict(key_point=v.key_point, verdict=v.verdict, evidence=evidence)
        accepted.append(v.key_point)

    total = sum(weights.get(v.key_point, 1.0) for v in before.verdicts) or 1.0
    moved = sum(weights.get(v.key_point, 1.0) * (CREDIT[current[v.key_point].verdict] - CREDIT[v.verdict])
                for v in before.verdicts)
    score = round(max(0.0, min(1.0, before.score + moved / total)), 4)
    final = [current[v.key_point] for v in before.verdicts]
    texts = {kp.id: kp.text for kp in question.key_points} if question else {}
    strengths, gaps = before.strengths, before.gaps
    if texts:
        strengths = [texts[v.key_point] for v in final if v.verdict == "covered" and v.key_point in texts]
        gaps = [texts[v.key_point] for v in final if v.verdict != "covered" and v.key_point in texts]
    record = GradeReview(reviewer=reviewer, at=at, before=before, accepted=accepted, rejected=rejected)
    if not accepted:
        return turn.grade.model_copy(update={"review": record})
    return before.model_copy(update={"score": score, "rating": rating_for(score), "verdicts": final,
                                     "strengths": strengths, "gaps": gaps, "grader": reviewer, "review": record})


def _rejection(v: KeyPointVerdict, current: dict[str, KeyPointVerdict], accepted: list[str], answer: str) -> str:
    if v.key_point not in current:
        return f"this answer was graded on {', '.join(current)}; {v.key_point!r} is not one of them"
    if v.key_point in accepted:
        return "a second verdict for the same key point; send one per key point"
    if v.verdict == "missing":
        return ""
    quote = normalised(v.evidence)
    if not quote:
        return f"a {v.verdict} verdict needs evidence: quote the candidate's words that earn it"
    if len(quote) < MIN_EVIDENCE_CHARS:
        return f"the evidence is too short to prove anything: quote at least {MIN_EVIDENCE_CHARS} characters"
    if quote not in answer:
        return "the evidence is not in the candidate's answer: quote their words exactly as they wrote them"
    return ""
