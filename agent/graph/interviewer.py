"""The interviewer agent: ask the next question or a follow-up probe, give hints, wrap up."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from agent.catalog import Catalog
from agent.domain import CallCase, FollowUp, OpsCase, Question, Turn, Usage
from agent.graph.deps import GraphDeps, Node
from agent.graph.state import InterviewState, OpenTurn
from agent.hints import choose_point, offline_hint, reveals, with_cost
from agent.llm.port import Ask, AskRequest, HintRequest
from agent.memory import choose_question, target_difficulty
from agent.planner import candidates, planned_seconds, section_of, time_budget


def _summary(turns: list[Turn]) -> str:
    """A bounded recap of recent turns for the model: topics and scores, never full answers."""
    recent = [t for t in turns if t.grade][-5:]
    return "; ".join(f"{t.question_id} scored {t.grade.score:.2f}" for t in recent if t.grade)


def leaks_answer(text: str, model_answer: str, window: int = 8) -> bool:
    """True when `text` repeats `window` consecutive words of the model answer."""
    said = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    words = re.findall(r"[a-z0-9]+", model_answer.lower())
    return any(" ".join(words[i : i + window]) in said for i in range(len(words) - window + 1))


def main_text(catalog: Catalog, question: Question) -> str:
    """A coding question carries its challenge: statement, starter code and visible examples
    (a question about a challenge before the code, such as a live-coding plan, its statement)."""
    if not question.challenge:
        return question.prompt
    challenge = catalog.challenge(question.challenge)
    if question.kind != "coding":
        return f"{question.prompt}\n\n{challenge.title}: {challenge.statement.strip()}"
    examples = "\n".join(f"  {c.name or 'example'}: {_call(challenge.entry_point, c)}" for c in challenge.visible_cases)
    return f"{question.prompt}\n\n{challenge.statement.strip()}\n\nStarter:\n{challenge.starter.rstrip()}" + (
        f"\n\nExamples:\n{examples}" if examples else "")


def clock_line(turns: list[Turn], total_s: int, now: datetime, step_s: int) -> str:
    """One clock across the whole interview: time since the first question, what is left, and
    this step's own budget."""
    elapsed = (now - turns[0].asked_at).total_seconds() if turns else 0.0
    left = total_s - elapsed
    over = f"{-left / 60:.0f} min over" if left < 0 else f"{left / 60:.0f} min left"
    return f"Clock: {elapsed / 60:.0f} min elapsed, {over} of {total_s / 60:.0f}; this step: {step_s / 60:.0f} min."


def _call(entry: str, case: CallCase | OpsCase) -> str:
    if isinstance(case, OpsCase):
        steps = "; ".join(f"{op.method}({_args(op.args)}) -> {op.expected!r}" for op in case.ops)
        return f"{entry}({_args(case.init_args)}); {steps}"
    return f"{entry}({_args(case.args)}) -> {case.expected!r}"


def _args(args: tuple[Any, ...]) -> str:
    return ", ".join(repr(a) for a in args)


def _last_main_score(turns: list[Turn]) -> float | None:
    main = [t for t in turns if t.follow_up_of is None and t.grade]
    last = main[-1].grade if main else None
    return last.score if last else None


def make_interviewer(deps: GraphDeps) -> Node:
    limits = deps.limits

    async def interviewer(state: InterviewState) -> dict[str, Any]:
        """Decide what to say next: a hint, a probe on a missed point, or the next question."""
        action = state.get("action")
        if action and action.kind == "hint":
            return await _hint(state)

        turns = state.get("turns", [])
        position = state.get("position", -1)
        if len(turns) >= limits.max_turns_per_session:
            return {"phase": "done", "notice": "This session reached its turn limit; here is your report."}

        if position >= 0:
            probes = _open_probes(state)
            if probes:
                return await _ask(state, state["question_id"], position, probes)
        difficulty = target_difficulty(state.get("difficulty", 2), _last_main_score(turns))
        memory = deps.memory_of(state["user"])
        choice = None
        while choice is None:  # a slot the bank cannot fill (e.g. no coding questions) is passed over
            position += 1
            if position >= len(state["plan"]):
                return {"phase": "done", "position": position}
            choice = choose_question(
                candidates(deps.catalog, state["plan"][position]),
                memory,
                asked=state.get("asked", []),
                difficulty=difficulty,
                salt=state["session_id"],
            )
        fresh: InterviewState = {**state, "probed": [], "open_points": []}
        update = await _ask(fresh, choice.question.id, position, [], chosen_because=choice.reason)
        update.update(asked=[*state.get("asked", []), choice.question.id], question_id=choice.question.id,
                      difficulty=difficulty)
        return update

    def _open_probes(state: InterviewState) -> list[FollowUp]:
        turns = state.get("turns", [])
        last = turns[-1] if turns else None
        if not last or last.outcome != "answered":
            return []
        probed = state.get("probed", [])
        allowed = state["plan"][state["position"]].get("follow_ups", limits.follow_ups_per_question)
        if len(probed) >= min(allowed, limits.follow_ups_per_question):
            return []
        question = deps.catalog.question(state["question_id"])
        open_points = set(state.get("open_points", []))
        probes = [fu for fu in question.follow_ups if fu.key_point in open_points and fu.key_point not in probed]
        # Most useful first: points this candidate keeps missing, then the rubric's heaviest.
        history = deps.missed_before(state["user"], question.id) if len(probes) > 1 else Counter()
        weight = {kp.id: kp.weight for kp in question.key_points}
        return sorted(probes, key=lambda fu: (-history[fu.key_point], -weight[fu.key_point]))

    async def _ask(state: InterviewState, question_id: str, position: int, probes: list[FollowUp],
                   chosen_because: str = "") -> dict[str, Any]:
        question = deps.catalog.question(question_id)
        model = deps.model(state)
        usage: list[Usage] = []
        # A main question is asked in the bank's words: they are interview-ready, cost nothing,
        # and cannot leak the answer.
        ask = Ask(text=main_text(deps.catalog, question))
        if probes:  # the bank's own probe, unless the model words a better one
            ask = Ask(text=probes[0].prompt, probed_key_point=probes[0].key_point)
        # A probe that is empty or gives the answer away is asked again, a bounded number of
        # times (an offline model would give the same text forever).
        for _attempt in range(limits.model_calls_per_turn if probes else 0):
            reply = await model.ask(AskRequest(
                question=question,
                probes=probes,
                last_answer=state.get("last_answer", ""),
                context=_summary(state.get("turns", [])),
            ))
            usage += reply.usage
            if reply.value.text.strip() and not leaks_answer(reply.value.text, question.model_answer):
                ask = reply.value
                break
        slot = state["plan"][position]
        asked_at = datetime.now(UTC)
        if slot.get("clock_s") and not probes:
            clock = clock_line(state.get("turns", []), slot["clock_s"], asked_at, time_budget(slot, question.kind))
            ask = ask.model_copy(update={"text": f"{ask.text}\n\n{clock}"})  # last: report titles stay the question
        seq = state.get("seq", 1)
        earlier = state.get("turns", [])
        section, section_number, sections = section_of(state["plan"], position)
        main_seq = next((t.seq for t in reversed(state.get("turns", []))
                         if t.question_id == question.id and t.follow_up_of is None), None)
        current = OpenTurn(
            seq=seq, question_id=question.id, question_version=question.version, topic=question.topic,
            kind=question.kind, prompt=ask.text, follow_up_of=main_seq if probes else None,
            probed_key_point=ask.probed_key_point if probes else None, number=position + 1,
            total=len(state["plan"]), time_budget_s=time_budget(slot, question.kind),
            asked_at=asked_at, usage=usage, guardrail_events=list(model.events),
            chosen_because=chosen_because, section=section, section_number=section_number, sections=sections,
            elapsed_s=int((asked_at - earlier[0].asked_at).total_seconds()) if earlier else 0,
            planned_s=planned_seconds(state["plan"]),
        )
        probed = state.get("probed", []) + ([ask.probed_key_point] if probes and ask.probed_key_point else [])
        return {"current": current, "position": position, "seq": seq + 1, "phase": "await", "probed": probed,
                "open_points": state.get("open_points", []), "action": None, "model_calls": model.calls,
                "events": [*state.get("events", []), *model.events]}

    async def _hint(state: InterviewState) -> dict[str, Any]:
        current = state["current"]
        assert current is not None, "a hint is routed here only with an open turn"
        question = deps.catalog.question(current.question_id)
        point = choose_point(question, current.probed_key_point, current.hinted)
        if len(current.hints) >= limits.hints_per_question or point is None:
            return {"phase": "await", "action": None, "notice": "No more hints for this question: answer it, or /skip."}
        on_screen = [question.prompt] + ([current.prompt] if current.follow_up_of is not None else [])
        model = deps.model(state)
        reply = await model.hint(HintRequest(question=question, hints_given=current.hints, key_point=point,
                                             on_screen=on_screen))
        nudge = reply.value.strip()
        if not nudge or reveals(nudge, point, on_screen):  # whoever wrote it, a hint never gives the point away
            nudge = offline_hint(question, point, on_screen, attempt=len(current.hints))
        current = current.model_copy(update={
            "hints": [*current.hints, with_cost(nudge)],
            "hinted": [*current.hinted, point.id],
            "usage": [*current.usage, *reply.usage],
            "guardrail_events": [*current.guardrail_events, *model.events],
        })
        return {"current": current, "phase": "await", "action": None, "model_calls": model.calls,
                "events": [*state.get("events", []), *model.events]}

    return interviewer


def make_finish(deps: GraphDeps) -> Node:
    def finish(state: InterviewState) -> dict[str, Any]:
        """End the interview; a question left open is recorded as ended, ungraded."""
        current = state.get("current")
        update: dict[str, Any] = {"phase": "done", "current": None, "action": None}
        if current:
            update["turns"] = [current.closed(outcome="ended")]
        return update

    return finish
