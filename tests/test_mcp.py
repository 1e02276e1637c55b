"""The MCP server through real MCP clients: in memory, and over stdio as Claude Desktop runs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from agent.config import Settings
from mcp_server.server import build_server
from tests.conftest import MINI_BANK

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(coach_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COACH_BANK_DIR", str(MINI_BANK))
    return build_server(Settings(), user="ada", offline=True)


async def test_a_whole_interview_through_tools(server) -> None:
    async with Client(server, raise_exceptions=True) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"list_topics", "start_interview", "answer", "hint", "skip", "end_interview", "session_report"} <= tools
        topics = (await client.call_tool("list_topics", {})).structured_content
        assert topics == {"topics": {"caching": 2, "sql": 1}}

        step = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content
        sid = step["session_id"]
        assert step["prompt"]["text"].startswith("What does a database index")
        step = (await client.call_tool("answer", {"session_id": sid, "answer": "It avoids a full table scan."})).structured_content
        [graded] = step["graded"]
        assert graded["grade"]["verdicts"][0] == {
            "key_point": "faster_reads", "verdict": "covered", "evidence": "It avoids a full table scan."}
        assert step["prompt"]["is_follow_up"]
        step = (await client.call_tool("end_interview", {"session_id": sid})).structured_content
        assert step["finished"] and step["report"]["to_review"]
        report = (await client.call_tool("session_report", {"session_id": sid})).structured_content
        assert report["status"] == "finished" and len(report["turns"]) == 2


async def test_errors_reach_the_model_as_readable_tool_errors(server) -> None:
    async with Client(server) as client:
        bad_topic = await client.call_tool("start_interview", {"topic": "astrology"})
        assert bad_topic.is_error and "choose one of: caching, sql" in bad_topic.content[0].text
        sid = (await client.call_tool("start_interview", {})).structured_content["session_id"]
        empty = await client.call_tool("answer", {"session_id": sid, "answer": "  "})
        assert empty.is_error and "empty" in empty.content[0].text
        unknown = await client.call_tool("answer", {"session_id": "not-mine", "answer": "x"})
        assert unknown.is_error and "no session 'not-mine'" in unknown.content[0].text
        too_many = await client.call_tool("start_interview", {"questions": 99})
        assert too_many.is_error


async def test_sessions_are_per_server_user(coach_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_BANK_DIR", str(MINI_BANK))
    async with Client(build_server(Settings(), user="ada", offline=True)) as ada:
        sid = (await ada.call_tool("start_interview", {})).structured_content["session_id"]
    async with Client(build_server(Settings(), user="bob", offline=True)) as bob:
        result = await bob.call_tool("session_report", {"session_id": sid})
        assert result.is_error and "no session" in result.content[0].text


async def test_stdio_server_as_claude_desktop_launches_it(coach_home: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--offline", "--user", "ada"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "COACH_HOME": str(coach_home),
             "COACH_BANK_DIR": str(MINI_BANK)},
        cwd=str(coach_home.parent),
    )
    async with Client(params) as client:
        step = (await client.call_tool("start_interview", {"topic": "caching", "questions": 1})).structured_content
        step = (await client.call_tool("skip", {"session_id": step["session_id"]})).structured_content
        assert step["finished"] and step["graded"][0]["outcome"] == "skipped"
