"""`coach mcp`: serve the coach's tools over MCP."""

from __future__ import annotations

from typing import Annotated

import typer

from bots.app import app, load_settings, user_errors, user_name


@app.command()
@user_errors
def mcp(
    transport: Annotated[str, typer.Option(help="stdio (Claude Desktop) or http (streamable HTTP at /mcp).")] = "stdio",
    host: Annotated[str, typer.Option(
        help="Address to listen on with --transport http (beyond loopback, set COACH_MCP_TOKEN).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on with --transport http.")] = 8765,
    user: Annotated[str | None, typer.Option("--user", "-u", help="The candidate this server serves.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use the offline interviewer and grader.")] = False,
) -> None:
    """Serve the coach's tools over MCP (for Claude Desktop and other MCP clients). Over HTTP, every
    request needs `Authorization: Bearer $COACH_MCP_TOKEN`; without a token only loopback is served."""
    from bots.startup import loaded
    from mcp_server.server import serve

    loaded()  # the server's code is loaded (bots/startup.py); it opens the service on its own
    settings = load_settings()
    who = None if user is None else user_name(user, settings)
    serve(settings, transport, host, port, who, True if offline else None)
