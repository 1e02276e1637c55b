"""Hints: a guiding question toward one missing key point that never states the point.

A hint aims at the point still open on screen (a follow-up's probed point, else the heaviest
point not hinted yet) and costs part of that point's credit (`HINTED_CREDIT`). The offline hint
is the bank's own `hint:` for the point when it has one, else the bank's follow-up probe for it
(when it is not on screen already), else a guiding question for the kind of point it is
(resources, speed, risk, measurement ...), else a question built from the words the candidate can see (the question and any follow-up on screen): never from the point's
own words. `reveals` is the check every hint passes, whoever wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.domain import Grade, KeyPoint, Question
from agent.grading.offline import CREDIT, rating_for
from agent.grading.text import STOPWORDS, stem

HINTED_CREDIT = 0.5
"""A key point reached after a hint earns at most this share of its credit."""
HINT_COST_NOTE = "a hinted point earns at most half its credit"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z0-9]+", text.lower())


def distinctive_terms(point: KeyPoint, on_screen: Iterable[str]) -> set[str]:
    """The point's own content words that the candidate cannot already see on screen (a plural
    of a visible word counts as visible; "planning" beside a visible "plan" does not)."""
    visible = {w for text in on_screen for w in _words(text)}
    visible |= {w + "s" for w in visible} | {w + "es" for w in visible} | {w[:-1] for w in visible if w.endswith("s")}
    words = _words(" ".join([point.text, *point.signals]))
    return {w for w in words if len(w) >= 4 and w not in STOPWORDS and w not in visible}


def reveals(hint: str, point: KeyPoint, on_screen: Iterable[str]) -> bool:
    """True when `hint` uses any of the point's distinctive terms, verbatim or by stem."""
    terms = distinctive_terms(point, on_screen)
    stems = {stem(t) for t in terms}
    return any(w in terms or stem(w) in stems for w in _words(hint))


def choose_point(question: Question, probed: str | None, hinted: list[str]) -> KeyPoint | None:
    """The point a hint aims at: the follow-up's probed point, else the heaviest not hinted yet."""
    if probed:
        point = next((kp for kp in question.key_points if kp.id == probed), None)
        return None if point is None or point.id in hinted else point
    fresh = [kp for kp in question.key_points if kp.id not in hinted]
    return max(fresh, key=lambda kp: kp.weight) if fresh else None


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_ANGLES: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    # (words that show what kind of point it is, guiding questions toward that kind of point)
    (_set("memory storage space disk ram size grows grow bytes footprint"),
     ("What does this use up as the workload gets bigger, and where would you see it?",
      "Which resource fills up first as this scales?")),
    (_set("faster slower slow speed latency quadratic linear throughput work per cheaper"),
     ("How does the amount of work per request change, and what does the user notice?",
      "Where is the work done, and how often is it repeated?")),
    (_set("cost costs expensive price overhead pay budget"),
     ("What would you pay for this, and when would it not be worth it?",)),
    (_set("fail fails failure error errors crash outage risk hallucination wrong retry retries"),
     ("What can go wrong here, and how would you notice it?",)),
    (_set("secret attack injection permission permissions auth leak untrusted abuse"),
     ("Who could abuse this, and what would stop them?",)),
    (_set("measure metric metrics evaluate evaluation test tests benchmark recall precision"),
     ("How would you know it works? What would you look at?",)),
    (_set("consistency concurrent race lock order ordering replica replicas conflict"),
     ("What happens when two of these happen at the same moment?",)),
    (_set("scale shard shards partition distributed parallel nodes machines"),
     ("What changes once this has to run across many machines at once?",)),
    (_set("team user users stakeholder stakeholders human people manager customer"),
     ("Who else is involved, and what do they need from you here?",)),
)
"""Kinds of key point and a guiding question for each: the question names the kind of thing to
think about (resources, speed, risk ...) and leaves the point itself to the candidate."""

_TEMPLATES = (
    "Think about {focus} from another side: what does it cost, and what could go wrong?",
    "Picture {focus} in production under real load: what would you have to watch for?",
    "Ask yourself why someone would choose otherwise: what trade-off does {focus} involve?",
    "Walk through {focus} step by step: which step have you not mentioned yet?",
)


_FALLBACKS = (
    "Reread the question: which part of it has your answer not touched yet?",
    "Read the question once more: which part is still open?",
    "What else matters here?",
)


def _focuses(question: Question, on_screen: list[str]) -> list[str]:
    """Short phrases to hang a hint on: the subtopic, then the key words on screen."""
    out = []
    if question.subtopic and not re.search(r"\d", question.subtopic):
        out.append(question.subtopic.replace("_", " ").replace("-", " "))
    for text in reversed(on_screen or [question.prompt]):
        words = [w for w in _words(text) if len(w) >= 4 and w not in STOPWORDS]
        if words:
            out.append(" ".join(words[:3]))
    return out


def offline_hint(question: Question, point: KeyPoint, on_screen: list[str], attempt: int = 0) -> str:
    """A nudge toward `point` without its words: the bank's hint if it is clean, else a template."""
    probe = next((fu.prompt for fu in question.follow_ups if fu.key_point == point.id), "")
    for written in (point.hint, probe):  # the bank's words first, when they are new to the candidate
        if written and written not in on_screen and not reveals(written, point, on_screen):
            return written
    own = set(_words(" ".join([point.text, *point.signals])))
    for triggers, questions in _ANGLES:
        if own & triggers:
            for offset in range(len(questions)):
                text = questions[(attempt + offset) % len(questions)]
                if not reveals(text, point, on_screen):
                    return text
    index = (sum(map(ord, point.id)) + attempt) % len(_TEMPLATES)
    for focus in _focuses(question, on_screen):
        for offset in range(len(_TEMPLATES)):
            text = _TEMPLATES[(index + offset) % len(_TEMPLATES)].format(focus=focus)
            if not reveals(text, point, on_screen):
                return text
    for fallback in _FALLBACKS:
        if not reveals(fallback, point, on_screen):
            return fallback
    return _FALLBACKS[-1]


def with_cost(nudge: str) -> str:
    """The hint as the candidate sees it: the nudge and what it costs."""
    return f"{nudge} ({HINT_COST_NOTE}.)"


def cap_hinted(grade: Grade, question: Question, hinted: list[str], only: tuple[str, ...] = ()) -> Grade:
    """`grade` with each hinted point's credit capped at HINTED_CREDIT, and a note saying so."""
    points = [kp for kp in question.key_points if not only or kp.id in only]
    total = sum(kp.weight for kp in points)
    verdicts = {v.key_point: v.verdict for v in grade.verdicts}
    lost = 0.0
    capped: list[str] = []
    for kp in points:
        if kp.id not in hinted or kp.id not in verdicts:
            continue
        credit = CREDIT[verdicts[kp.id]]
        lost += kp.weight * max(0.0, credit - HINTED_CREDIT)
        capped.append(kp.id)
    if not capped or not total:
        return grade
    score = max(0.0, round(grade.score - lost / total, 4))
    notes = [*grade.notes, f"hinted: {', '.join(capped)} (each capped at {HINTED_CREDIT:.0%} of its credit)"]
    return grade.model_copy(update={"score": score, "rating": min(grade.rating, rating_for(score)), "notes": notes})
