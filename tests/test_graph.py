"""The supervisor's routing, with every model reply scripted: who acted at each step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.catalog import Catalog
from agent.config import Limits
from agent.domain import Grade, KeyPointVerdict
from agent.graph import GraphDeps, build_graph
from agent.llm.offline import OfflineLLM
from agent.llm.port import Ask, AskRequest, GradeRequest, HintRequest, Reply

pytestmark = pytest.mark.anyio


class ScriptedLLM:
    """Replies from a script and logs each call, so a test can assert the agents' order."""

    name = "scripted"

    def __init__(self, verdicts: list[dict[str, str]]) -> None:
        self.verdicts = list(verdicts)
        self.calls: list[str] = []

    async def ask(self, request: AskRequest) -> Reply[Ask]:
        self.calls.append("probe" if request.probes else "ask")
        if request.probes:
            return Reply(value=Ask(text="probe!", probed_key_point=request.probes[-1].key_point))
        return Reply(value=Ask(text=request.question.prompt))

    async def grade(self, request: GradeRequest) -> Reply[Grade]:
        self.calls.append("grade")
        script = self.verdicts.pop(0)
        verdicts = [KeyPointVerdict(key_point=k, verdict=v) for k, v in script.items()]
        score = sum(v == "covered" for v in script.values()) / len(script)
        return Reply(value=Grade(score=score, rating=max(1, round(score * 4)), verdicts=verdicts))

    async def hint(self, request: HintRequest) -> Reply[str]:
        self.calls.append("hint")
        return Reply(value="a nudge")


async def run(graph, payload, thread="t1") -> list[str]:
    """Stream one invoke and return the nodes that acted, in order ("wait": paused for the candidate)."""
    config = {"configurable": {"thread_id": thread}, "recursion_limit": 40}
    acted = []
    async for update in graph.astream(payload, config, stream_mode="updates"):
        acted.extend("wait" if k == "__interrupt__" else k for k in update)
    return acted


def action(kind: str, text: str = "") -> Command:
    return Command(resume={"kind": kind, "text": text, "at": "2026-01-01T00:00:00+00:00"})


async def test_routing_through_a_probe_a_hint_and_the_end(mini_bank: Catalog) -> None:
    llm = ScriptedLLM([
        {"faster_reads": "covered", "slower_writes": "missing", "storage": "missing"},
        {"slower_writes": "covered"},
    ])
    limits = Limits(follow_ups_per_question=2)
    graph = build_graph(GraphDeps(llm=llm, catalog=mini_bank, limits=limits)).compile(checkpointer=InMemorySaver())
    start = {"session_id": "s1", "user": "u", "plan": [{"question": "sql.index"}, {"question": "caching.lru"}], "position": -1, "seq": 1, "phase": "ask"}

    assert await run(graph, start) == ["interviewer", "wait"]
    # answer -> grader; a missed point with a probe -> the interviewer probes it
    assert await run(graph, action("answer", "reads are faster")) == [
        "candidate", "grader", "interviewer", "wait"]
    # the probe is answered; no probe is left for "storage", so the next question comes
    assert await run(graph, action("answer", "writes slow down")) == [
        "candidate", "grader", "interviewer", "wait"]
    assert await run(graph, action("hint")) == ["candidate", "interviewer", "wait"]
    assert await run(graph, action("end")) == ["candidate", "finish"]
    assert llm.calls == ["grade", "probe", "grade", "hint"]  # main questions come from the bank

    state = (await graph.aget_state({"configurable": {"thread_id": "t1"}})).values
    assert [(t.question_id, t.outcome, t.probed_key_point) for t in state["turns"]] == [
        ("sql.index", "answered", None),
        ("sql.index", "answered", "slower_writes"),
        ("caching.lru", "ended", None),
    ]
    assert state["turns"][2].hints == ["a nudge (a hinted point earns at most half its credit.)"]  # says its cost


async def test_probes_stop_at_the_follow_up_budget(mini_bank: Catalog) -> None:
    missing = {"reuse": "missing", "memory": "missing", "speed": "missing"}
    llm = ScriptedLLM([missing, {"speed": "missing"}, {"memory": "missing"}])
    graph = build_graph(GraphDeps(llm=llm, catalog=mini_bank, limits=Limits(follow_ups_per_question=1))).compile(
        checkpointer=InMemorySaver()
    )
    await run(graph, {"session_id": "s1", "user": "u", "plan": [{"question": "caching.kv_cache"}], "position": -1, "seq": 1, "phase": "ask"})
    await run(graph, action("answer", "no idea"))
    acted = await run(graph, action("answer", "still no idea"))
    assert acted == ["candidate", "grader", "interviewer"]
    assert llm.calls == ["grade", "probe", "grade"]  # one probe, then the plan is done
    state = (await graph.aget_state({"configurable": {"thread_id": "t1"}})).values
    assert state["phase"] == "done"


async def test_a_late_answer_is_still_graded_and_marked_late(mini_bank: Catalog) -> None:
    llm = ScriptedLLM([{"faster_reads": "covered", "slower_writes": "covered", "storage": "covered"}])
    graph = build_graph(GraphDeps(llm=llm, catalog=mini_bank, limits=Limits())).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}, "recursion_limit": 40}
    await run(graph, {"session_id": "s1", "user": "u", "position": -1, "seq": 1, "phase": "ask",
                      "plan": [{"question": "sql.index", "time_budget_s": 30}]})
    asked = (await graph.aget_state(config)).values["current"].asked_at
    late_at = (asked + timedelta(seconds=31)).isoformat()
    await run(graph, Command(resume={"kind": "answer", "text": "all of it", "at": late_at}))
    [turn] = (await graph.aget_state(config)).values["turns"]
    assert turn.late and turn.time_budget_s == 30 and turn.grade.score == 1.0
    assert "answered after the time budget" in turn.grade.notes


async def test_a_point_stated_in_a_follow_up_is_never_probed(mini_bank: Catalog) -> None:
    graph = build_graph(GraphDeps(llm=OfflineLLM(), catalog=mini_bank, limits=Limits(follow_ups_per_question=2))).compile(
        checkpointer=InMemorySaver()
    )
    await run(graph, {"session_id": "s1", "user": "u", "plan": [{"question": "caching.kv_cache"}], "position": -1,
                      "seq": 1, "phase": "ask"})
    await run(graph, action("answer", "It reuses the keys and values of earlier tokens."))
    config = {"configurable": {"thread_id": "t1"}}
    asked = (await graph.aget_state(config)).values["current"]
    assert asked.probed_key_point == "memory"  # the heavier of the two missed points first
    # Answering the memory probe, the candidate also states the speed point: no probe on it follows.
    await run(graph, action("answer", "Memory grows with the sequence length. And each new token then costs "
                                      "linear rather than quadratic work."))
    state = (await graph.aget_state(config)).values
    assert state["phase"] == "done" and [t.probed_key_point for t in state["turns"]] == [None, "memory"]


async def test_a_follow_up_is_graded_with_what_was_said_before(mini_bank: Catalog) -> None:
    seen: list[tuple[str, ...]] = []

    class Recording(ScriptedLLM):
        async def grade(self, request: GradeRequest) -> Reply[Grade]:
            seen.append(request.prior_answers)
            return await super().grade(request)

    llm = Recording([{"faster_reads": "covered", "slower_writes": "missing", "storage": "covered"},
                     {"slower_writes": "covered"}])
    graph = build_graph(GraphDeps(llm=llm, catalog=mini_bank, limits=Limits())).compile(checkpointer=InMemorySaver())
    await run(graph, {"session_id": "s1", "user": "u", "plan": [{"question": "sql.index"}], "position": -1,
                      "seq": 1, "phase": "ask"})
    await run(graph, action("answer", "Lookups skip the scan; it costs disk."))
    await run(graph, action("answer", "Those, yes."))
    assert seen == [(), ("Lookups skip the scan; it costs disk.",)]
