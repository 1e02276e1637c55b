"""The shape of an interview: one slot per main question, each saying what may fill it.

The plan is fixed when the session starts; which question fills a slot is decided when the
interviewer reaches it (`agent.memory.choose_question`), so the choice can follow the candidate:
due reviews, weak topics, and a difficulty that moves with their answers.
"""

from __future__ import annotations

from typing import TypedDict

from agent.catalog import Catalog
from agent.domain import InterviewFormat, Question, QuestionKind

SPOKEN_KINDS: tuple[QuestionKind, ...] = ("concept", "rapid_fire")
ALL_SPOKEN: tuple[QuestionKind, ...] = ("concept", "rapid_fire", "system_design", "behavioural")


TIME_BUDGET_S: dict[str, int] = {
    "rapid_fire": 60, "concept": 180, "behavioural": 300, "system_design": 900, "coding": 1200,
}
"""Seconds an answer may take before the interviewer nudges; a format may set its own per slot."""


class Slot(TypedDict, total=False):
    topic: str | None
    kinds: list[QuestionKind]
    question: str
    """A fixed question id (a scripted interview); topic and kinds are then ignored."""
    time_budget_s: int
    follow_ups: int
    section: str
    """The format section's name (e.g. "warm-up")."""
    clock_s: int
    """The whole interview's budget, when the format keeps one clock across it."""


DEFAULT_FORMAT = "concept"


def time_budget(slot: Slot, kind: str) -> int:
    return slot.get("time_budget_s") or TIME_BUDGET_S.get(kind, 180)


def plan_slots(fmt: InterviewFormat, topic: str | None, n: int | None = None) -> list[Slot]:
    """One slot per question of the format's sections, in order.

    `n` resizes a single-section format. The default concept format with a topic accepts every
    spoken kind of that topic (so `--topic behavioural` asks behavioural questions); without one
    it mixes concept and rapid-fire questions across topics.
    """
    slots: list[Slot] = []
    for section in fmt.sections:
        kinds = list(section.kinds)
        if fmt.id == DEFAULT_FORMAT:
            kinds = list(ALL_SPOKEN if topic else SPOKEN_KINDS)
        if section.questions:  # a scripted section: these questions, in order
            slots += [Slot(question=qid, kinds=kinds, time_budget_s=section.time_budget_s,
                           follow_ups=section.follow_ups, section=section.name) for qid in section.questions]
            continue
        count = n if n is not None and len(fmt.sections) == 1 else section.count
        slots += [
            Slot(topic=topic, kinds=kinds, time_budget_s=section.time_budget_s, follow_ups=section.follow_ups,
                 section=section.name)
            for _ in range(count)
        ]
    slots = slots[:n] if n is not None else slots
    if fmt.clock:
        total = sum(slot["time_budget_s"] for slot in slots)
        for slot in slots:
            slot["clock_s"] = total
    return slots


SCRIPTED = "scripted"
"""Tag of a question only a format that names it asks (e.g. a live-coding plan step)."""


def section_of(plan: list[Slot], position: int) -> tuple[str | None, int | None, int]:
    """(section name, its 1-based number, how many sections the plan has) for a slot."""
    names: list[str] = []
    for slot in plan:
        name = slot.get("section")
        if name and name not in names:
            names.append(name)
    name = plan[position].get("section") if 0 <= position < len(plan) else None
    return name, (names.index(name) + 1 if name in names else None), len(names)


def planned_seconds(plan: list[Slot]) -> int:
    """The whole interview's planned length: every slot's time budget."""
    return sum(slot.get("time_budget_s") or 0 for slot in plan)


def candidates(bank: Catalog, slot: Slot) -> list[Question]:
    if "question" in slot:
        return [bank.question(slot["question"])]
    kinds = slot.get("kinds") or ALL_SPOKEN
    return [q for q in bank.questions(topic=slot.get("topic")) if q.kind in kinds and SCRIPTED not in q.tags]
