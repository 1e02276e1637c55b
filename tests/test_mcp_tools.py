"""What a model sees of the coach's tools, through a real MCP client: schemas with enums and a
description for every argument, tool annotations, JSON resources, and errors that name tools."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from mcp import Client

from agent.config import Settings
from mcp_server.server import build_server
from tests.conftest import MINI_BANK

pytestmark = pytest.mark.anyio
FRONT_END_COMMANDS = re.compile(r"coach (sessions|interview|progress|replay)|/(hint|skip|end)\b")


@pytest.fixture
def server(coach_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COACH_BANK_DIR", str(MINI_BANK))
    return build_server(Settings(), user="ada", offline=True)


async def test_every_tool_is_annotated_and_every_argument_described(server) -> None:
    async with Client(server, raise_exceptions=True) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name, tool in tools.items():
        a = tool.annotations
        assert a is not None and None not in (a.read_only_hint, a.destructive_hint, a.idempotent_hint,
                                              a.open_world_hint), name
        assert tool.description and "  " not in tool.description, f"{name}: runs of spaces in its description"
        for arg, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{name}({arg}) has no description"
    read_only = {n for n, t in tools.items() if t.annotations.read_only_hint}
    assert read_only == {"run_code", "get_challenge", "list_challenges", "list_topics", "session_report",
                         "list_sessions", "weak_topics"}
    assert tools["end_interview"].annotations.destructive_hint

    start = tools["start_interview"].input_schema["properties"]
    from agent.catalog import Catalog

    formats = list(Catalog.load(MINI_BANK).formats)
    assert start["format"]["enum"] == formats and {"concept", "mock"} <= set(formats)
    [topic_enum] = [s["enum"] for s in start["topic"]["anyOf"] if "enum" in s]
    assert topic_enum == ["caching", "sql"]
    verdict = tools["review_grade"].input_schema["$defs"]["ReviewVerdict"]["properties"]["verdict"]
    assert verdict["enum"] == ["covered", "partial", "missing"]


async def test_resources_are_json_and_an_unknown_one_is_a_clean_error(
        server, caplog: pytest.LogCaptureFixture) -> None:
    async with Client(server) as client:
        listed = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        assert {r.mime_type for r in listed} | {t.mime_type for t in templates} == {"application/json"}
        topics = await client.read_resource("coach://topics")
        assert topics.contents[0].mime_type == "application/json"
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(Exception, match=r"no challenge 'nope'.*`list_challenges`"):
                await client.read_resource("coach://challenges/nope")
            with pytest.raises(Exception, match="`list_sessions` lists yours"):
                await client.read_resource("coach://sessions/nope")
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_errors_and_notices_name_tools_not_front_end_commands(server) -> None:
    async with Client(server) as client:
        texts = []
        unknown = await client.call_tool("answer", {"session_id": "nope", "answer": "x"})
        texts.append(unknown.content[0].text)
        assert "`list_sessions`" in texts[-1]
        sid = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content[
            "session_id"]
        empty = await client.call_tool("answer", {"session_id": sid, "answer": " "})
        texts.append(empty.content[0].text)
        assert "`hint`" in texts[-1] and "`skip`" in texts[-1] and "`end_interview`" in texts[-1]
        for _ in range(6):
            step = (await client.call_tool("hint", {"session_id": sid})).structured_content
            texts += [step["notice"], *step["hints"]]
            if step["notice"]:
                break
        assert "`skip`" in step["notice"], texts
        await client.call_tool("end_interview", {"session_id": sid})
        closed = await client.call_tool("answer", {"session_id": sid, "answer": "more"})
        texts.append(closed.content[0].text)
        assert closed.is_error and "`start_interview`" in texts[-1]
    assert not [t for t in texts if FRONT_END_COMMANDS.search(t)], texts


async def test_check_tests_without_an_entry_point_say_what_to_pass(server) -> None:
    async with Client(server) as client:
        tests = "def check(candidate):\n    assert candidate(1) == 2\n"
        result = await client.call_tool("run_code", {"code": "def inc(x):\n    return x + 1\n", "tests": tests})
        assert result.is_error and "pass entry_point" in result.content[0].text
        run = await client.call_tool("run_code", {"code": "def inc(x):\n    return x + 1\n", "tests": tests,
                                                  "entry_point": "inc"})
        assert not run.is_error and run.structured_content["status"] == "passed"


async def test_the_prompt_says_when_to_review_and_never_to_reveal_key_points(server) -> None:
    async with Client(server) as client:
        text = (await client.get_prompt("mock_interview", {"topic": "sql"})).messages[0].content.text
    assert "review_grade" in text and "Never reveal" in text and "exact words" in text
