"""The Claude Desktop bundle (`mcpb/`): its manifest declares every tool the live server lists,
launches the server the way Claude Desktop would, and passes the pinned mcpb CLI's validate and pack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from agent.config import Settings
from mcp_server.server import build_server
from tests.conftest import MINI_BANK

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "mcpb"
MCPB = "@anthropic-ai/mcpb@2.1.2"  # pinned: the manifest format follows the CLI's version
MANIFEST = json.loads((BUNDLE / "manifest.json").read_text())


def substituted(value: str, **config: str) -> str:
    """What Claude Desktop does to the manifest's ${...} placeholders."""
    value = value.replace("${__dirname}", str(BUNDLE))
    for key, setting in config.items():
        value = value.replace(f"${{user_config.{key}}}", setting)
    return value


@pytest.mark.anyio
async def test_the_manifest_declares_every_tool_the_server_lists(coach_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_BANK_DIR", str(MINI_BANK))
    async with Client(build_server(Settings(), user="ada", offline=True)) as client:
        live = {t.name for t in (await client.list_tools()).tools}
    declared = [t["name"] for t in MANIFEST["tools"]]
    assert sorted(declared) == sorted(live) and len(declared) == len(set(declared))
    assert all(t["description"] for t in MANIFEST["tools"])


def test_the_manifest_asks_for_the_user_and_an_optional_secret_key() -> None:
    config = MANIFEST["user_config"]
    assert config["anthropic_api_key"]["sensitive"] is True and config["anthropic_api_key"]["required"] is False
    assert not config["user"].get("sensitive")
    assert MANIFEST["server"]["type"] == "python"
    assert (BUNDLE / MANIFEST["server"]["entry_point"]).is_file()
    assert "${user_config.anthropic_api_key}" in MANIFEST["server"]["mcp_config"]["env"].values()


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_bundle_launches_the_server_as_claude_desktop_would(coach_home: Path) -> None:
    mcp_config = MANIFEST["server"]["mcp_config"]
    settings = {"python": sys.executable, "user": "ada", "anthropic_api_key": ""}
    env = {k: substituted(v, **settings) for k, v in mcp_config["env"].items()}
    params = StdioServerParameters(
        command=substituted(mcp_config["command"], **settings),
        args=[substituted(a, **settings) for a in mcp_config["args"]],
        env={**env, "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "COACH_HOME": str(coach_home),
             "COACH_BANK_DIR": str(MINI_BANK)},
        cwd=str(coach_home.parent))
    async with Client(params) as client:
        step = (await client.call_tool("start_interview", {"topic": "sql", "questions": 1})).structured_content
        assert step["prompt"]["question_id"] == "sql.index"
        sessions = (await client.call_tool("list_sessions", {})).structured_content["sessions"]
        assert [s["session_id"] for s in sessions] == [step["session_id"]]


def test_the_launcher_says_how_to_install_the_coach_when_it_is_missing(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-I", "-S", str(BUNDLE / "server" / "coach_mcp.py")], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path,
                         env={"PATH": os.environ["PATH"], "PYTHONNOUSERSITE": "1"})
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: the interview coach is not installed") and "pip install" in out.stderr


@pytest.mark.slow
def test_the_pinned_mcpb_cli_validates_and_packs_the_bundle(tmp_path: Path) -> None:
    if not shutil.which("npx"):
        pytest.skip("npx (node and npm) is not installed; the mcpb CLI runs with npx")
    env = {**os.environ, "npm_config_yes": "true", "npm_config_update_notifier": "false"}

    def mcpb(*args: str) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["npx", "-y", MCPB, *args], capture_output=True, text=True, timeout=600, env=env,
                             cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        return out

    assert "validation passes" in mcpb("validate", str(BUNDLE / "manifest.json")).stdout
    packed = tmp_path / "interview-coach.mcpb"
    mcpb("pack", str(BUNDLE), str(packed))
    with zipfile.ZipFile(packed) as bundle:
        names = set(bundle.namelist())
        assert json.loads(bundle.read("manifest.json")) == MANIFEST
    assert MANIFEST["server"]["entry_point"] in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
