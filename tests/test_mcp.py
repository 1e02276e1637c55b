"""The MCP server through real MCP clients: in memory, and over stdio as Claude Desktop runs it."""

from __future__ import annotations

import json
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
        # topic is an enum in the schema now: the SDK's validation names the allowed values
        assert bad_topic.is_error and "Input should be 'caching' or 'sql'" in bad_topic.content[0].text
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


@pytest.mark.slow
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


async def test_code_progress_sessions_resources_and_prompt(server) -> None:
    from agent.catalog import Catalog

    async with Client(server, raise_exceptions=True) as client:
        challenge = (await client.call_tool("get_challenge", {"challenge_id": "merge-intervals"})).structured_content
        assert challenge["examples"] and "reference_solution" not in challenge and "cases" not in challenge
        ref = Catalog.load().challenge("merge-intervals").reference_solution
        run = (await client.call_tool("run_code", {"code": ref, "challenge_id": "merge-intervals"})).structured_content
        assert run["status"] == "passed"
        tests = "def check(candidate):\n    assert candidate([[1, 2]]) == [[1, 2]]\n"
        run = (await client.call_tool("run_code", {"code": ref, "tests": tests, "entry_point": "merge_intervals"}))
        assert run.structured_content["status"] == "passed"
        bad = await client.call_tool("run_code", {"code": ref})
        assert bad.is_error and "exactly one of challenge_id and tests" in bad.content[0].text

        step = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content
        await client.call_tool("answer", {"session_id": step["session_id"], "answer": "It avoids a full table scan."})
        await client.call_tool("end_interview", {"session_id": step["session_id"]})
        progress = (await client.call_tool("weak_topics", {})).structured_content
        assert progress["weak_topics"][0]["topic"] == "sql" and progress["history"]
        sessions = (await client.call_tool("list_sessions", {})).structured_content["sessions"]
        assert [s["session_id"] for s in sessions] == [step["session_id"]]

        topics = await client.read_resource("coach://topics")
        assert json.loads(topics.contents[0].text) == {"caching": 2, "sql": 1}
        transcript = await client.read_resource(f"coach://sessions/{step['session_id']}")
        assert json.loads(transcript.contents[0].text)["turns"][0]["answer"] == "It avoids a full table scan."
        prompt = await client.get_prompt("mock_interview", {"topic": "rag"})
        assert "start_interview" in prompt.messages[0].content.text


@pytest.mark.slow
async def test_malformed_json_rpc_over_stdio_gets_an_error_and_the_server_keeps_going(coach_home: Path) -> None:
    import asyncio

    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "COACH_HOME": str(coach_home),
           "COACH_BANK_DIR": str(MINI_BANK)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcp_server", "--offline", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=str(coach_home.parent),
        limit=1 << 22)  # one JSON-RPC message per line; tools/list with output schemas passes 64 KiB

    async def send(obj) -> None:
        proc.stdin.write((obj if isinstance(obj, str) else json.dumps(obj)).encode() + b"\n")
        await proc.stdin.drain()

    async def reply() -> dict:
        return json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))

    await send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert (await reply())["id"] == 1
    await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    await send("{this is not json")
    await send({"jsonrpc": "2.0", "id": "x", "method": "tools/call", "params": {"name": 7}})  # wrong shape
    await send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    replies = [await reply() for _ in range(2)]  # the bad call is answered with an error, the next works
    by_id = {r.get("id"): r for r in replies}
    assert "error" in by_id["x"] or by_id["x"].get("result", {}).get("isError")
    assert any(t["name"] == "run_code" for t in by_id[2]["result"]["tools"])
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 20)
