"""Output safety: secrets never reach a log line or an error, user text never acts where it is shown
(a terminal, a Markdown export, an HTML page). One test per item of issue 15's list."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from agent.domain import Grade, KeyPointVerdict, Turn
from agent.service import Transcript, TranscriptStep
from bots.render_transcript import render_html, render_markdown, render_text
from bots.safe_text import md_code_block, md_inline, terminal_text
from tests.conftest import MINI_BANK

ROOT = Path(__file__).resolve().parent.parent
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""What must never reach the operator's terminal from stored text (newline and tab are fine)."""
HOSTILE = ("use an LRU cache \x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 "
           "<img src=x onerror=alert(1)> [link](javascript:alert(1)) **bold** \x9b31m\rX")


def coach(*args: str, home: Path, stdin: str = "", env: dict[str, str] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in its own process, with its own COACH_HOME and no key."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("ANTHROPIC_API_KEY", "DATABASE_URL", "COACH_DATABASE_URL", "TELEGRAM_BOT_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args], input=stdin, capture_output=True, text=True, timeout=timeout,
        env={**base, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "COACH_HOME": str(home),
             "COACH_BANK_DIR": str(MINI_BANK), **(env or {})},
    )


def assert_one_error_line(out: subprocess.CompletedProcess, *secrets: str) -> str:
    everything = out.stdout + out.stderr
    assert out.returncode == 2, everything
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr
    assert "Traceback" not in everything
    for secret in secrets:
        assert secret not in everything
    return errors[0]


# --- secrets ------------------------------------------------------------------------------------

class _RejectingBotApi(BaseHTTPRequestHandler):
    """A Bot API server that rejects every token, as api.telegram.org does for a wrong one."""

    def _reject(self) -> None:
        body = json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reject

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_a_rejected_telegram_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RejectingBotApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = coach("telegram", "--base-url", f"http://127.0.0.1:{server.server_port}", home=tmp_path / "home",
                    env={"TELEGRAM_BOT_TOKEN": "123:FAKE"})
    finally:
        server.shutdown()
    line = assert_one_error_line(out, "123:FAKE", "FAKE")
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in line and "@BotFather" in line


_LOGGING_SCRIPT = r"""
import logging, os, sys
from agent.redaction import install_redaction
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
install_redaction()
handler = logging.StreamHandler(sys.stdout)   # a handler added after install: the factory still covers it
logging.getLogger("late").addHandler(handler)
key, token, mcp = os.environ["ANTHROPIC_API_KEY"], os.environ["TELEGRAM_BOT_TOKEN"], os.environ["COACH_MCP_TOKEN"]
log = logging.getLogger("late.child")          # propagates to both handlers
log.info("calling with key %s", key)
log.warning("GET https://api.telegram.org/bot%s/getMe", token)
log.info({"authorization": f"Bearer {mcp}"})
log.info("a token we never configured: 987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawx and sk-ant-api03-zzzzzzzzzzzz")
try:
    raise RuntimeError(f"upstream said: invalid x-api-key {key}")
except RuntimeError:
    log.exception("the call failed")
raise ValueError(f"token {token} was rejected")
"""


def test_secrets_are_masked_in_every_log_record_and_the_uncaught_error(tmp_path: Path) -> None:
    secrets = {"ANTHROPIC_API_KEY": "sk-ant-api03-Secret0Key1Value2", "TELEGRAM_BOT_TOKEN": "123:FAKE",
               "COACH_MCP_TOKEN": "mcp-bearer-s3cr3t-value"}
    out = subprocess.run([sys.executable, "-c", _LOGGING_SCRIPT], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **secrets})
    everything = out.stdout + out.stderr
    for value in [*secrets.values(), "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawx", "sk-ant-api03-zzzz"]:
        assert value not in everything
    assert "calling with key [redacted]" in out.stdout and "calling with key [redacted]" in out.stderr
    assert "/bot[redacted]/getMe" in out.stderr and "Bearer [redacted]" in out.stderr
    assert "Traceback" in out.stderr and "invalid x-api-key [redacted]" in out.stderr  # the logged traceback, masked
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: unexpected ValueError: token [redacted] was rejected")
    assert out.returncode == 1


# --- Markdown and HTML exports ------------------------------------------------------------------

ANSWER_BREAKING_OUT = "an LRU cache:\n```\n<script>alert('md')</script>\n````\n<b>bold</b>\n"


def _transcript(answer: str, evidence: str, feedback: str = "Good. <script>x()</script>") -> Transcript:
    grade = Grade(score=0.5, rating=2, grader="offline", feedback=feedback, verdicts=[
        KeyPointVerdict(key_point="eviction `policy`", verdict="covered", evidence=evidence),
        KeyPointVerdict(key_point="hit rate", verdict="missing")])
    turn = Turn(seq=1, question_id="caching.lru", question_version=1, topic="caching",
                prompt="What is an LRU cache?", answer=answer, outcome="answered", grade=grade,
                hints=["think <i>recency</i> ```"], asked_at=datetime(2026, 1, 1, tzinfo=UTC))
    return Transcript(session_id="abc123", user="ada", format="concept", topics=["caching"], planned_questions=1,
                      status="finished", engine="offline", started_at=datetime(2026, 1, 1, tzinfo=UTC), score=0.5,
                      steps=[TranscriptStep(turn=turn)])


def test_markdown_export_keeps_every_answer_inside_its_fence_and_escapes_other_user_text() -> None:
    md = render_markdown(_transcript(ANSWER_BREAKING_OUT, evidence="<img src=x onerror=alert(1)> [a](javascript:x)"))
    html = MarkdownIt("commonmark").render(md)  # raw HTML on, as GitHub and most viewers render it
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert 'href="javascript' not in html
    blocks = re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S)
    assert len(blocks) == 1  # the answer, whole, in one block, its own ``` and ```` included
    assert "```\n&lt;script&gt;alert('md')&lt;/script&gt;\n````\n&lt;b&gt;bold&lt;/b&gt;" in blocks[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the evidence is shown, as text


def test_html_export_escapes_user_text() -> None:
    page = render_html(_transcript(ANSWER_BREAKING_OUT + "</pre><script>alert(2)</script>",
                                   evidence="\"><svg onload=alert(3)>"))
    assert "<script" not in page.lower() and "<svg" not in page.lower() and "<img" not in page.lower()
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)" in page and "&quot;&gt;&lt;svg onload=alert(3)&gt;" in page


def test_markdown_helpers_hold_for_any_backtick_run() -> None:
    for run in range(1, 12):
        fence_open, _body, fence_close = md_code_block(f"a\n{'`' * run}\nb")
        assert fence_open.startswith(fence_close) and len(fence_close) > run
    assert md_inline("# title\n- item <b>&amp;") == r"\# title - item \<b\>\&amp;"  # one line: "-" starts nothing


# --- terminal ------------------------------------------------------------------------------------

def test_terminal_text_drops_escape_sequences_and_controls_but_keeps_the_text() -> None:
    cleaned = terminal_text(HOSTILE + "\nnext line\tcolumn")
    assert not CONTROL.search(cleaned.replace("\n", "").replace("\t", ""))
    assert "use an LRU cache" in cleaned and "click" in cleaned and "<img src=x" in cleaned
    assert cleaned.endswith("\nnext line\tcolumn")
    assert "pwned" not in cleaned and "evil.example" not in cleaned  # the title and the link target
    assert render_text(_transcript(HOSTILE, HOSTILE))  # plain text rendering itself keeps the stored text


@pytest.mark.slow
def test_stored_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    answer_file = tmp_path / "answer.txt"
    answer_file.write_text(ANSWER_BREAKING_OUT + HOSTILE, encoding="utf-8")
    live = coach("interview", "--offline", "-n", "1", "--topic", "caching", home=home,
                 stdin=f"{HOSTILE.replace(chr(13), '')}\n/file {answer_file}\n/end\n")  # piped, \r would split the line
    assert live.returncode == 0, live.stderr
    assert not CONTROL.search(live.stdout.replace("\n", "").replace("\t", "")), "the interview echoed controls"
    session = re.search(r"session ([0-9a-f]{12})", live.stdout)[1]

    replay = coach("replay", session, home=home)
    assert replay.returncode == 0, replay.stderr
    assert "use an LRU cache" in replay.stdout and "click" in replay.stdout
    assert not CONTROL.search(replay.stdout.replace("\n", "").replace("\t", ""))
    listing = coach("sessions", home=home)
    assert session in listing.stdout and not CONTROL.search(listing.stdout.replace("\n", ""))

    md = coach("replay", session, "--format", "md", home=home)
    assert not CONTROL.search(md.stdout.replace("\n", "").replace("\t", ""))
    rendered = MarkdownIt("commonmark").render(md.stdout)
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    html = coach("replay", session, "--format", "html", home=home)
    assert "<script" not in html.stdout and "<img" not in html.stdout
    assert not CONTROL.search(html.stdout.replace("\n", "").replace("\t", ""))
    exact = json.loads(coach("replay", session, "--format", "json", home=home).stdout)
    assert "\x1b[2J" in exact["steps"][0]["turn"]["answer"]  # the backup format keeps what was typed
