"""`coach`: the command line. Each command parses, calls the service, renders; nothing more.

    coach interview --offline --topic rag --questions 3
    coach interview --resume            # continue your unfinished session
    coach mcp                           # the coach's tools for Claude Desktop
"""

from __future__ import annotations

from bots.app import app
from bots.commands import bank, eval, grade_file, interview, mcp, progress, run_code, sessions, telegram  # noqa: F401  (each module registers its command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
