"""The MCP surface's vocabulary: the service words its next steps for people at a terminal or in a
chat (`coach sessions`, `/skip`); a model holding the interview over MCP acts through tools, so
each of those names is said as the tool that does the same thing.

The table is the whole contract: a test sends every error and notice the service can produce
through a real MCP client and checks that none names a command a model cannot run.
"""

from __future__ import annotations

import re

TOOL_FOR = {
    "coach sessions": "list_sessions",
    "coach interview --resume": "answer",
    "coach interview": "start_interview",
    "coach progress": "weak_topics",
    "coach replay": "session_report",
    "coach run-code": "run_code",
    "/hint": "hint",
    "/skip": "skip",
    "/end": "end_interview",
}
_COMMAND = re.compile(r"`?(" + "|".join(re.escape(c) for c in TOOL_FOR) + r")\b`?")


def for_model(text: str) -> str:
    """`text` with every CLI command and chat command replaced by the MCP tool that does it."""
    return _COMMAND.sub(lambda m: f"`{TOOL_FOR[m.group(1)]}`", text)
