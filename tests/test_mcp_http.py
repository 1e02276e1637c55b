"""The coach over streamable HTTP: a real uvicorn server in a second process, a real HTTP client
and a real MCP client. A bearer token (COACH_MCP_TOKEN) is required; without one only loopback."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import MINI_BANK

ROOT = Path(__file__).resolve().parent.parent
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

pytestmark = pytest.mark.slow  # servers in subprocesses: the full suite's, not the fast lane's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def coach_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    return {**env, "PYTHONPATH": str(ROOT), "COACH_HOME": str(home), "COACH_BANK_DIR": str(MINI_BANK),
            "COLUMNS": "300", **extra}


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log


def serve(home: Path, *args: str, **env: str) -> Iterator[Served]:
    port = free_port()
    log = home.parent / f"server-{port}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_server", "--transport", "http", "--port", str(port), "--offline",
             "--user", "ada", *args], stdout=sink, stderr=subprocess.STDOUT, text=True,
            env=coach_env(home, **env), cwd=home.parent)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start listening in 60 s:\n" + log.read_text()
                time.sleep(0.1)
        yield Served(proc, url, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def served(coach_home: Path, token: str) -> Iterator[Served]:
    yield from serve(coach_home, COACH_MCP_TOKEN=token)


def test_requests_without_the_right_bearer_token_get_401(served: Served, token: str) -> None:
    with httpx.Client(timeout=30) as http:
        missing = http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS)
        wrong = http.post(served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer not-it"})
        basic = http.post(served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Basic {token}"})
        right = http.post(served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
    assert (missing.status_code, wrong.status_code, basic.status_code) == (401, 401, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200, right.text


@pytest.mark.anyio
async def test_an_mcp_client_with_the_token_holds_an_interview_and_the_token_stays_out_of_logs(
        served: Served, token: str) -> None:
    async with (create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
                Client(streamable_http_client(served.url, http_client=http)) as client):
        step = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content
        step = (await client.call_tool("answer", {"session_id": step["session_id"],
                                                  "answer": "It avoids a full table scan."})).structured_content
        assert step["graded"][0]["grade"]["verdicts"][0]["verdict"] == "covered"
    async with create_mcp_http_client(headers={"Authorization": "Bearer wrong"}) as http:
        with pytest.raises(Exception):  # noqa: B017 - the SDK raises its own HTTP error type
            async with Client(streamable_http_client(served.url, http_client=http)) as client:
                await client.list_tools()
    served.proc.terminate()
    served.proc.wait(timeout=30)
    assert token not in served.log.read_text()


def test_loopback_keeps_host_and_origin_checks_with_a_token(served: Served, token: str) -> None:
    auth = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30) as http:
        rebound = http.post(served.url, json=INITIALIZE, headers={**auth, "Host": "evil.example:80"})
        foreign = http.post(served.url, json=INITIALIZE, headers={**auth, "Origin": "http://evil.example"})
    assert rebound.status_code == 421 or rebound.status_code == 403, rebound.text
    assert foreign.status_code == 403, foreign.text


def test_beyond_loopback_the_token_is_what_guards_the_server(coach_home: Path, token: str) -> None:
    """On 0.0.0.0 the SDK's Host/Origin checks are off (any name may reach it); the token is not."""
    for served in serve(coach_home, "--host", "0.0.0.0", COACH_MCP_TOKEN=token):
        with httpx.Client(timeout=30) as http:
            foreign = {**MCP_HEADERS, "Host": "coach.example:80"}
            assert http.post(served.url, json=INITIALIZE, headers=foreign).status_code == 401
            ok = http.post(served.url, json=INITIALIZE, headers={**foreign, "Authorization": f"Bearer {token}"})
            assert ok.status_code == 200, ok.text


def test_loopback_without_a_token_still_serves(coach_home: Path) -> None:
    for served in serve(coach_home):
        with httpx.Client(timeout=30) as http:
            assert http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS).status_code == 200


@pytest.mark.parametrize(("host", "env", "says"), [
    ("0.0.0.0", {}, "without a bearer token: set COACH_MCP_TOKEN"),
    ("0.0.0.0", {"COACH_MCP_TOKEN": "short"}, "shorter than 16 characters"),
])
def test_refuses_to_listen_beyond_loopback_without_a_usable_token(
        coach_home: Path, host: str, env: dict[str, str], says: str) -> None:
    for command in ([sys.executable, "-m", "mcp_server"], [sys.executable, "-m", "bots.cli", "mcp"]):
        out = subprocess.run([*command, "--transport", "http", "--host", host, "--port", str(free_port())],
                             capture_output=True, text=True, timeout=120, env=coach_env(coach_home, **env),
                             cwd=coach_home.parent)
        assert out.returncode == 2, out.stderr
        [line] = out.stderr.strip().splitlines()
        assert line.startswith("error:") and says in line


@pytest.fixture
def runner_pool(token: str) -> Iterator[str]:
    """The code runner's own MCP server with a token, under uvicorn in a thread on a free port."""
    import threading

    import uvicorn

    from agent.catalog import Catalog
    from tools.runner import CodeRunner
    from tools.runner.over_mcp import build_runner_server

    runner = CodeRunner()
    app = build_runner_server(runner, Catalog.load().challenge, token=token).streamable_http_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the runner pool did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runner.close()


@pytest.mark.anyio
async def test_the_runner_pool_over_http_needs_the_token_the_coach_sends(runner_pool: str, token: str) -> None:
    from tools.runner.over_mcp import McpCodeRunner

    with httpx.Client(timeout=30) as http:
        assert http.post(runner_pool, json=INITIALIZE, headers=MCP_HEADERS).status_code == 401
    passed = await McpCodeRunner(runner_pool, token).run_tests("def add(a, b):\n    return a + b\n",
                                                              "assert add(2, 2) == 4\n")
    assert passed.status == "passed"
    refused = await McpCodeRunner(runner_pool, "not-the-token").run_tests("x = 1\n", "assert x\n")
    assert refused.status == "unavailable" and "COACH_MCP_TOKEN" in refused.message
    assert token not in refused.message
