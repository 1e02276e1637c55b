"""`python -m mcp_server [--transport stdio|http] [--host H] [--port P] [--user U] [--offline]`."""

import argparse
import sys

from agent.config import Settings, user_name_problem
from agent.errors import CoachError
from agent.redaction import install_redaction
from mcp_server.server import serve


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m mcp_server", description="The interview coach as an MCP server.")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--user", default=None)
    parser.add_argument("--offline", action="store_true", default=None)
    args = parser.parse_args()
    install_redaction()  # secrets masked in every log line; an unexpected error is one line, not a traceback
    if args.user is not None and (problem := user_name_problem(args.user)):
        print(f"error: invalid --user: {problem}", file=sys.stderr)
        return 2
    try:
        settings = Settings()
    except ValueError as err:
        print(f"error: invalid configuration: {str(err).splitlines()[0]}; fix it in the environment or .env",
              file=sys.stderr)
        return 2
    install_redaction([s.get_secret_value() for s in (settings.anthropic_api_key, settings.telegram_bot_token) if s])
    try:
        serve(settings, args.transport, args.host, args.port, args.user, args.offline)
    except CoachError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
