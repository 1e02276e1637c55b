"""The coach over MCP: Claude Desktop (or any MCP client) holds a mock interview through tools.

    coach mcp                          # stdio, for Claude Desktop
    coach mcp --transport http         # streamable HTTP on 127.0.0.1:8765/mcp
    python -m mcp_server

One server process serves one candidate (`--user`, default from settings): the tools never take
a user name from the model, so a prompt cannot reach another candidate's history. Each tool is a
few lines: call SessionService, return its pydantic result (the tool's output schema). Errors the
model should read come back as ToolError with the message; nothing else leaks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import BaseModel, Field

from agent.config import Settings
from agent.domain import SessionReport
from agent.errors import CoachError
from agent.service import Challenge, Progress, RunResult, SessionService, SessionSummary, Step, open_catalog
from mcp_server.auth import BearerToken, auth_settings, http_token

INSTRUCTIONS = """Interview coach. Start a mock interview with start_interview, show the candidate
each question exactly as returned, send their reply verbatim with answer (do not answer for
them, do not improve their wording), then show the grade and the next question. hint, skip and
end_interview do what they say. list_topics shows what can be practised."""

T = TypeVar("T")


@dataclass
class CoachContext:
    coach: SessionService
    user: str


class Topics(BaseModel):
    topics: dict[str, int] = Field(description="topic -> number of questions in the bank")


class Sessions(BaseModel):
    sessions: list[SessionSummary]


class ChallengeView(BaseModel):
    """What a candidate may see of a challenge: never the hidden cases or the reference."""

    id: str
    title: str
    difficulty: int
    statement: str
    starter: str
    time_budget_min: int
    examples: list[dict[str, Any]]

    @classmethod
    def of(cls, c: Challenge) -> ChallengeView:
        examples = [case.model_dump(exclude={"visible"}) for case in c.visible_cases]
        return cls(id=c.id, title=c.title, difficulty=c.difficulty, statement=c.statement, starter=c.starter,
                   time_budget_min=c.time_budget_min, examples=examples)


async def guarded(awaitable: Awaitable[T]) -> T:
    """Turn a CoachError into a ToolError, whose message the model gets to read."""
    try:
        return await awaitable
    except CoachError as err:
        raise ToolError(str(err)) from None


def build_server(settings: Settings, user: str | None = None, offline: bool | None = None,
                 token: str | None = None, host: str = "127.0.0.1", port: int = 8765) -> MCPServer:
    """The coach's MCP server; with `token`, HTTP requests need `Authorization: Bearer <token>`."""
    candidate = user or settings.default_user
    catalog = open_catalog(settings)  # parsed once per process; the service shares it

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[CoachContext]:
        async with SessionService.open(settings, offline=offline) as coach:
            yield CoachContext(coach=coach, user=candidate)

    guard = {"token_verifier": BearerToken(token), "auth": auth_settings(host, port)} if token else {}
    server = MCPServer("interview-coach", instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING",
                       **guard)

    def ctx_of(ctx: Context) -> CoachContext:
        return ctx.request_context.lifespan_context

    @server.tool()
    async def run_code(
        ctx: Context,
        code: Annotated[str, Field(description="the Python source to run (the candidate's solution)")],
        challenge_id: Annotated[str | None, Field(description="run against this challenge's hidden tests")] = None,
        tests: Annotated[str | None, Field(description="or: assert-style test code / a check(candidate) function")] = None,
        entry_point: Annotated[str | None, Field(description="the function check(candidate) receives")] = None,
    ) -> RunResult:
        """Run Python code in an isolated sandbox (no network, limited CPU, memory and time) against
        a challenge's hidden tests or against given test code. Returns a status (passed, failed,
        error, timeout, memory, output_limit, unavailable) and one record per test; expected values
        are shown only for the challenge's visible examples."""
        return await guarded(ctx_of(ctx).coach.run_code(code, challenge_id, tests, entry_point))

    @server.tool()
    async def get_challenge(ctx: Context, challenge_id: str) -> ChallengeView:
        """A coding challenge's statement, starter code, time budget and visible examples."""
        try:
            return ChallengeView.of(ctx_of(ctx).coach.challenge(challenge_id))
        except CoachError as err:
            raise ToolError(f"{err}; list_challenges shows them") from None

    @server.tool()
    async def list_challenges(ctx: Context) -> dict[str, str]:
        """Coding challenges by id, with their titles."""
        return {c.id: c.title for c in ctx_of(ctx).coach.challenges().values()}

    @server.tool()
    async def list_topics(ctx: Context) -> Topics:
        """List the topics the question bank covers, with how many questions each has."""
        return Topics(topics=ctx_of(ctx).coach.topics())

    @server.tool()
    async def start_interview(
        ctx: Context,
        topic: Annotated[str | None, Field(description="a topic from list_topics; omit for a mix")] = None,
        format: Annotated[str, Field(description="concept, rapid, code, design, behavioural or mock")] = "concept",
        questions: Annotated[int | None, Field(ge=1, le=30, description="how many main questions")] = None,
    ) -> Step:
        """Start a mock interview. Returns the session id and the first question to show the candidate."""
        c = ctx_of(ctx)
        return await guarded(c.coach.start(c.user, topic=topic, questions=questions, fmt=format))

    @server.tool()
    async def answer(
        ctx: Context,
        session_id: str,
        answer: Annotated[str, Field(description="the candidate's reply, verbatim")],
    ) -> Step:
        """Submit the candidate's answer. Returns the grade (key points covered, partial or missed,
        with evidence and feedback) and the next question or follow-up, or the final report."""
        c = ctx_of(ctx)
        return await guarded(c.coach.answer(session_id, c.user, answer))

    @server.tool()
    async def hint(ctx: Context, session_id: str) -> Step:
        """Ask for a hint on the current question (a nudge, not the answer)."""
        c = ctx_of(ctx)
        return await guarded(c.coach.hint(session_id, c.user))

    @server.tool()
    async def skip(ctx: Context, session_id: str) -> Step:
        """Skip the current question; it is recorded as skipped and the next one comes."""
        c = ctx_of(ctx)
        return await guarded(c.coach.skip(session_id, c.user))

    @server.tool()
    async def end_interview(ctx: Context, session_id: str) -> Step:
        """End the interview now and return the report with model answers for what was missed."""
        c = ctx_of(ctx)
        return await guarded(c.coach.end(session_id, c.user))

    @server.tool()
    async def session_report(ctx: Context, session_id: str) -> SessionReport:
        """The full transcript of one of the candidate's sessions: every question, answer, grade
        with key-point verdicts and evidence, code runs, and the scores."""
        c = ctx_of(ctx)
        return await guarded(c.coach.report(session_id, c.user))

    @server.tool()
    async def list_sessions(ctx: Context) -> Sessions:
        """The candidate's past and current sessions, newest first, with format, topics and score."""
        c = ctx_of(ctx)
        return Sessions(sessions=c.coach.sessions(c.user))

    @server.tool()
    async def weak_topics(ctx: Context) -> Progress:
        """The candidate's weak topics (with the reason for each), reviews due now, and every graded
        score over time. Use it to suggest what to practise next."""
        c = ctx_of(ctx)
        return c.coach.progress(c.user)

    @server.resource("coach://topics")
    def topics_resource() -> str:
        """Topics in the question bank with question counts (JSON)."""
        return json.dumps(catalog.topics())

    @server.resource("coach://sessions/{session_id}")
    async def transcript_resource(session_id: str, ctx: Context) -> str:
        """One of the candidate's session transcripts (JSON); another user's session is not found."""
        c = ctx_of(ctx)
        try:
            return (await c.coach.report(session_id, c.user)).model_dump_json()
        except CoachError as err:
            raise ResourceNotFoundError(str(err)) from None

    @server.resource("coach://challenges/{challenge_id}")
    def challenge_resource(challenge_id: str, ctx: Context) -> str:
        """A coding challenge's statement, starter and visible examples (JSON)."""
        try:
            return ChallengeView.of(ctx_of(ctx).coach.challenge(challenge_id)).model_dump_json()
        except CoachError as err:
            raise ResourceNotFoundError(str(err)) from None

    @server.prompt()
    def mock_interview(topic: str = "", format: str = "concept") -> str:
        """Run a mock interview with the coach's tools."""
        on = f" on {topic}" if topic else ""
        return (f"Run a {format} mock interview{on} with me using the interview coach. Call start_interview"
                f"{f' with topic={topic!r}' if topic else ''}, show me each question exactly as returned, and "
                "send my replies verbatim with answer. For code, I will paste a solution: send it as the answer. "
                "After each grade, show the covered and missed key points briefly. At the end, show the report "
                "and suggest what to practise from weak_topics.")

    return server


def serve(settings: Settings, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765,
          user: str | None = None, offline: bool | None = None) -> None:
    """Run the server until the client goes away. Over stdio, stdout is the protocol: log to stderr.
    Over HTTP, a token from COACH_MCP_TOKEN is required of every request; without one only
    loopback is served (where the SDK's Host/Origin checks stay on)."""
    if transport == "stdio":
        build_server(settings, user=user, offline=offline).run()
    elif transport == "http":
        secret = settings.mcp_token.get_secret_value() if settings.mcp_token else None
        token = http_token(secret, host)
        build_server(settings, user=user, offline=offline, token=token, host=host, port=port).run(
            "streamable-http", host=host, port=port)
    else:
        raise CoachError(f"unknown transport {transport!r}; use stdio or http")
