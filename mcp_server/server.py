"""The coach over MCP: Claude Desktop (or any MCP client) holds a mock interview through tools.

    coach mcp                          # stdio, for Claude Desktop
    coach mcp --transport http         # streamable HTTP on 127.0.0.1:8765/mcp (COACH_MCP_TOKEN)
    python -m mcp_server

One server process serves one candidate (`--user`, default from settings): the tools never take
a user name from the model, so a prompt cannot reach another candidate's history. Each tool is a
few lines: call SessionService, return its pydantic result (the tool's output schema). Errors the
model should read come back as ToolError with the message, worded in tool names (`wording.py`);
nothing else leaks. Closed sets (formats, topics, verdicts) are enums in the schema, read from the
catalog once at start.
"""

# No `from __future__ import annotations`: the tools' parameter types are built from the catalog
# at start (the formats and topics enums) and must be real objects when the SDK reads them.

import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from agent.config import Settings
from agent.domain import KeyPointVerdict, SessionReport
from agent.errors import CoachError
from agent.service import (
    Challenge,
    Progress,
    ReviewedGrade,
    RunResult,
    SessionService,
    SessionSummary,
    Step,
    open_catalog,
)
from mcp_server.auth import BearerToken, auth_settings, http_token
from mcp_server.wording import for_model

INSTRUCTIONS = inspect.cleandoc("""
    Interview coach. Start a mock interview with start_interview, show the candidate each question
    exactly as returned, send their reply verbatim with answer (do not answer for them, do not
    improve their wording), then show the grade and the next question. hint, skip and end_interview
    do what they say. list_topics shows what can be practised. After answer returns a grade you may
    check it with review_grade (your own verdict per key point, quoting the candidate's words).
""")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

READ = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
ACT = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
SessionId = Annotated[str, Field(description="the session_id start_interview returned (list_sessions shows them)")]
ChallengeId = Annotated[str, Field(description="a challenge id from list_challenges, e.g. 'merge-intervals'")]
_CHECK = re.compile(r"^\s*def\s+check\s*\(", re.MULTILINE)


@dataclass
class CoachContext:
    coach: SessionService
    user: str


class Topics(BaseModel):
    topics: dict[str, int] = Field(description="topic -> number of questions in the bank")


class Sessions(BaseModel):
    sessions: list[SessionSummary]


class ReviewVerdict(BaseModel):
    """Your verdict on one key point of the graded answer."""

    key_point: str = Field(description="a key point id from the grade's verdicts, e.g. 'faster_reads'")
    verdict: Literal["covered", "partial", "missing"] = Field(description="how well the answer made this point")
    evidence: str = Field(default="", description=(
        "for covered or partial: the candidate's own words that make the point, quoted exactly from their "
        "answer (a paraphrase is rejected); empty for missing"))


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
    def of(cls, c: Challenge) -> "ChallengeView":
        examples = [case.model_dump(exclude={"visible"}) for case in c.visible_cases]
        return cls(id=c.id, title=c.title, difficulty=c.difficulty, statement=c.statement, starter=c.starter,
                   time_budget_min=c.time_budget_min, examples=examples)


async def guarded(awaitable: Awaitable[T]) -> T:
    """Turn a CoachError into a ToolError, whose message the model gets to read."""
    try:
        return await awaitable
    except CoachError as err:
        raise ToolError(for_model(str(err))) from None


def worded(step: Step) -> Step:
    """A step's notice and hints in tool names (the graph words them for a person: "or /skip")."""
    return step.model_copy(update={"notice": for_model(step.notice), "hints": [for_model(h) for h in step.hints]})


def reviewer_of(ctx: Context) -> str:
    """Who reviews a grade: the MCP client's name from its initialize request, e.g. client:claude-ai."""
    info = getattr(getattr(ctx.session, "client_params", None), "client_info", None)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(getattr(info, "name", "") or "")).strip("-")[:60]
    return f"client:{name or 'model'}"


def build_server(settings: Settings, user: str | None = None, offline: bool | None = None,
                 token: str | None = None, host: str = "127.0.0.1", port: int = 8765) -> MCPServer:
    """The coach's MCP server; with `token`, HTTP requests need `Authorization: Bearer <token>`."""
    candidate = user or settings.default_user
    catalog = open_catalog(settings)  # parsed once per process; the service shares it
    formats = Literal[tuple(catalog.formats)]  # type: ignore[valid-type]
    topics = Literal[tuple(catalog.topics())]  # type: ignore[valid-type]
    format_list = ", ".join(f"{k} ({f.title.lower()})" for k, f in catalog.formats.items())

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[CoachContext]:
        async with SessionService.open(settings, offline=offline) as coach:
            yield CoachContext(coach=coach, user=candidate)

    guard = {"token_verifier": BearerToken(token), "auth": auth_settings(host, port)} if token else {}
    server = MCPServer("interview-coach", instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING",
                       **guard)

    def tool(annotations: ToolAnnotations) -> Callable[[F], F]:
        """`server.tool` with the docstring cleaned of its indentation for the model."""
        def register(fn: F) -> F:
            server.tool(description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)(fn)
            return fn
        return register

    def ctx_of(ctx: Context) -> CoachContext:
        return ctx.request_context.lifespan_context

    @tool(READ)
    async def run_code(
        ctx: Context,
        code: Annotated[str, Field(description="the Python source to run (the candidate's solution)")],
        challenge_id: Annotated[str | None, Field(description=(
            "run against this challenge's hidden tests (list_challenges); or pass tests instead"))] = None,
        tests: Annotated[str | None, Field(description=(
            "assert-style test code that sees the names code defines, or a HumanEval-style "
            "`def check(candidate)` (then entry_point is required)"))] = None,
        entry_point: Annotated[str | None, Field(description=(
            "with a check(candidate) test: the name of the function in code that check receives"))] = None,
    ) -> RunResult:
        """Run Python code in an isolated sandbox (no network, limited CPU, memory and time) against
        a challenge's hidden tests or against given test code. Returns a status (passed, failed,
        error, timeout, memory, output_limit, unavailable) and one record per test; expected values
        are shown only for the challenge's visible examples."""
        if tests is not None and entry_point is None and _CHECK.search(tests):
            raise ToolError("these tests define check(candidate): pass entry_point, the name of the function in "
                            "code that check should receive (e.g. entry_point='merge_intervals')")
        return await guarded(ctx_of(ctx).coach.run_code(code, challenge_id, tests, entry_point))

    @tool(READ)
    async def get_challenge(ctx: Context, challenge_id: ChallengeId) -> ChallengeView:
        """A coding challenge's statement, starter code, time budget and visible examples."""
        try:
            return ChallengeView.of(ctx_of(ctx).coach.challenge(challenge_id))
        except CoachError as err:
            raise ToolError(f"{err}; `list_challenges` shows them") from None

    @tool(READ)
    async def list_challenges(ctx: Context) -> dict[str, str]:
        """Coding challenges by id, with their titles."""
        return {c.id: c.title for c in ctx_of(ctx).coach.challenges().values()}

    @tool(READ)
    async def list_topics(ctx: Context) -> Topics:
        """List the topics the question bank covers, with how many questions each has."""
        return Topics(topics=ctx_of(ctx).coach.topics())

    @tool(ACT)
    async def start_interview(
        ctx: Context,
        topic: Annotated[topics | None, Field(description="a topic from list_topics; omit for a mix")] = None,
        format: Annotated[formats, Field(description=f"the interview's format: {format_list}")] = "concept",
        questions: Annotated[int | None, Field(ge=1, le=30, description=(
            "how many main questions (follow-up probes come on top); omit for the format's default"))] = None,
    ) -> Step:
        """Start a mock interview. Returns the session id and the first question to show the candidate."""
        c = ctx_of(ctx)
        return worded(await guarded(c.coach.start(c.user, topic=topic, questions=questions, fmt=format)))

    @tool(ACT)
    async def answer(
        ctx: Context,
        session_id: SessionId,
        answer: Annotated[str, Field(description="the candidate's reply, verbatim (for code: their solution)")],
        confidence: Annotated[int | None, Field(ge=1, le=3, description=(
            "the candidate's own rating of this answer, asked before showing the grade: 1 didn't know, "
            "2 partly, 3 clear and complete; omit if they did not say"))] = None,
    ) -> Step:
        """Submit the candidate's answer. Returns the grade (key points covered, partial or missed,
        with evidence and feedback) and the next question or follow-up, or the final report."""
        c = ctx_of(ctx)
        return worded(await guarded(c.coach.answer(session_id, c.user, answer, confidence=confidence)))

    @tool(ACT)
    async def hint(ctx: Context, session_id: SessionId) -> Step:
        """Ask for a hint on the current question (a nudge, not the answer)."""
        c = ctx_of(ctx)
        return worded(await guarded(c.coach.hint(session_id, c.user)))

    @tool(ACT)
    async def skip(ctx: Context, session_id: SessionId) -> Step:
        """Skip the current question; it is recorded as skipped and the next one comes."""
        c = ctx_of(ctx)
        return worded(await guarded(c.coach.skip(session_id, c.user)))

    @tool(ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False, openWorldHint=False))
    async def end_interview(ctx: Context, session_id: SessionId) -> Step:
        """End the interview now and return the report with model answers for what was missed.
        The session cannot be continued afterwards."""
        c = ctx_of(ctx)
        return worded(await guarded(c.coach.end(session_id, c.user)))

    @tool(ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False))
    async def review_grade(
        ctx: Context,
        session_id: SessionId,
        verdicts: Annotated[list[ReviewVerdict], Field(min_length=1, description=(
            "your verdict for each key point you judge differently (or all of them)"))],
        seq: Annotated[int | None, Field(description=(
            "the turn to review (its seq in the grade); omit for the latest graded answer"))] = None,
    ) -> ReviewedGrade:
        """Optional: after answer returns a grade, give your own verdict per key point of that
        answer. A covered or partial verdict is accepted only when its evidence is quoted exactly
        from the candidate's answer; each rejected verdict comes back with the reason and the
        offline verdict stands. The accepted verdicts become the grade (you are recorded as the
        grader, the offline grade is kept beside it) and the candidate's review schedule follows."""
        c = ctx_of(ctx)
        proposed = [KeyPointVerdict(key_point=v.key_point, verdict=v.verdict, evidence=v.evidence) for v in verdicts]
        return await guarded(c.coach.review_grade(session_id, c.user, proposed, reviewer_of(ctx), seq=seq))

    @tool(READ)
    async def session_report(ctx: Context, session_id: SessionId) -> SessionReport:
        """The full transcript of one of the candidate's sessions: every question, answer, grade
        with key-point verdicts and evidence, code runs, and the scores."""
        c = ctx_of(ctx)
        return await guarded(c.coach.report(session_id, c.user))

    @tool(READ)
    async def list_sessions(ctx: Context) -> Sessions:
        """The candidate's past and current sessions, newest first, with format, topics and score."""
        c = ctx_of(ctx)
        return Sessions(sessions=c.coach.sessions(c.user))

    @tool(READ)
    async def weak_topics(ctx: Context) -> Progress:
        """The candidate's weak topics (with the reason for each), reviews due now and ahead, every
        graded score over time, and calibration per topic (self-ratings against grades: a positive
        bias means overconfident). Use it to suggest what to practise next."""
        c = ctx_of(ctx)
        return c.coach.progress(c.user)

    @server.resource("coach://topics", mime_type="application/json",
                     description="Topics in the question bank with question counts.")
    def topics_resource() -> str:
        return json.dumps(catalog.topics())

    @server.resource("coach://sessions/{session_id}", mime_type="application/json",
                     description="One of the candidate's session transcripts; another user's session is not found.")
    async def transcript_resource(session_id: str, ctx: Context) -> str:
        c = ctx_of(ctx)
        try:
            return (await c.coach.report(session_id, c.user)).model_dump_json()
        except CoachError as err:
            raise ResourceNotFoundError(for_model(str(err))) from None

    @server.resource("coach://challenges/{challenge_id}", mime_type="application/json",
                     description="A coding challenge's statement, starter and visible examples.")
    def challenge_resource(challenge_id: str, ctx: Context) -> str:
        try:
            return ChallengeView.of(ctx_of(ctx).coach.challenge(challenge_id)).model_dump_json()
        except CoachError as err:
            raise ResourceNotFoundError(f"{err}; `list_challenges` shows them") from None

    @server.prompt(description="Run a mock interview with the coach's tools, graded offline and reviewed by you.")
    def mock_interview(topic: str = "", format: str = "concept") -> str:
        on = f" on {topic}" if topic else ""
        return (f"Run a {format} mock interview{on} with me using the interview coach. Call start_interview"
                f"{f' with topic={topic!r}' if topic else ''} and format={format!r}, show me each question exactly "
                "as returned, and send my replies verbatim with answer. For code, I will paste a solution: send it "
                "as the answer. Never reveal or hint at the key points, model answers or expected test values "
                "before I have answered; hint gives a nudge when I ask for one. After each answer, answer returns "
                "the coach's offline grade: read my answer against the key points and, where you judge a point "
                "differently, call review_grade once with your verdict for each such key point, quoting my exact "
                "words as evidence (never words I did not write). Then show me the grade briefly: covered and "
                "missed key points. At the end, show the report and suggest what to practise from weak_topics.")

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
