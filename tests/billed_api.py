"""A Messages API that bills like the real one, for the budget tests, and a child-process worker.

`BilledAPI` answers each request from a per-answer script of outcomes (a valid grade, invalid
output, an error status, a dropped connection, a hang), reports usage derived from the request
(at most one input token a body byte, as a byte-level tokenizer; 400 output tokens) and keeps,
thread-safely, every request it saw per answer and what the 200 responses billed.

Run as a module it is the second process of the concurrency and crash tests:
`python -m tests.billed_api DB_URL MODE FIRST COUNT CAP_USD [READY_FILE]` grades answers
FIRST..FIRST+COUNT-1 concurrently against the shared database and prints a JSON tally.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from collections import Counter
from pathlib import Path

import anthropic
import httpx2

from agent.catalog import Catalog
from agent.config import DEFAULT_PRICES, Budgets, Limits
from agent.domain import Usage
from agent.guardrails import CostGate, GuardedLLM, budget_scopes, cost_usd
from agent.llm.anthropic_llm import AnthropicLLM
from agent.llm.port import GradeRequest
from agent.store.budget import BudgetLedger
from agent.store.repository import open_engine

BANK = Catalog.load(Path(__file__).parent / "fixtures" / "bank")
GRADE = {"verdicts": [{"key_point": "faster_reads", "verdict": "covered", "evidence": "avoids a scan"}]}
OUTPUT_TOKENS = 400
# What each answer's requests meet, in order (the last outcome repeats). 4 requests at most are
# needed by any script, so a request cap of 3 is met by some answers.
SCRIPTS: list[list[str]] = [
    ["ok"],
    ["invalid", "ok"],
    ["500", "529", "ok"],
    ["invalid", "invalid"],
    ["500", "500", "500", "500"],
    ["429", "invalid", "500", "ok"],
]


def script_for(answer: int) -> list[str]:
    return SCRIPTS[answer % len(SCRIPTS)]


class BilledAPI:
    def __init__(self, scripts: dict[int, list[str]], ready_file: Path | None = None) -> None:
        self.scripts = scripts
        self.ready_file = ready_file
        self.requests: Counter[int] = Counter()
        self.models: Counter[str] = Counter()
        self.bodies: list[int] = []
        self.billed_usd = 0.0
        self._lock = threading.Lock()

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = request.content
        answer = int(re.search(rb"answer-(\d+)", body).group(1))  # type: ignore[union-attr]
        with self._lock:
            attempt = self.requests[answer]
            self.requests[answer] += 1
            self.bodies.append(len(body))
        script = self.scripts[answer]
        outcome = script[min(attempt, len(script) - 1)]
        if outcome == "hang":  # a model call that never returns: the process is killed meanwhile
            assert self.ready_file is not None
            self.ready_file.write_text("sent")
            await asyncio.sleep(3600)
        if outcome == "drop":
            raise httpx2.ConnectError("connection dropped", request=request)
        model = json.loads(body)["model"]
        with self._lock:
            self.models[model] += 1
        if outcome.isdigit():
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "try again"}}
            return httpx2.Response(int(outcome), json=error, headers={"retry-after": "0"})
        usage = Usage(model=model, input_tokens=len(body) // 4, output_tokens=OUTPUT_TOKENS)
        with self._lock:
            self.billed_usd += cost_usd(usage, DEFAULT_PRICES)
        text = json.dumps(GRADE) if outcome == "ok" else "not a grade"
        return httpx2.Response(200, json={
            "id": "msg_test", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": OUTPUT_TOKENS,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        })

    def llm(self) -> AnthropicLLM:
        client = anthropic.AsyncAnthropic(
            api_key="sk-test-not-a-real-key",
            max_retries=2,  # the adapter turns the SDK's own retries off: they would pass no meter
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self)),
        )
        return AnthropicLLM(client, interviewer_model="claude-haiku-4-5", grader_model="claude-sonnet-4-6",
                            retry_wait_s=0.0)


def gate_for(ledger: BudgetLedger, budgets: Budgets) -> CostGate:
    return CostGate(ledger, budgets, dict(DEFAULT_PRICES), "claude-haiku-4-5", "claude-sonnet-4-6", 1024)


async def grade_answers(api: BilledAPI, gate: CostGate, budgets: Budgets, limits: Limits,
                        answers: range, at_once: int = 2) -> dict[int, str]:
    """Grade the answers concurrently, `at_once` at a time, each as its own candidate's turn; who
    graded each. (With all in flight at once, their worst cases alone would fill the cap.)"""
    llm = api.llm()
    question = BANK.question("sql.index")
    slots = asyncio.Semaphore(at_once)

    async def one(i: int) -> tuple[int, str]:
        scopes = budget_scopes(budgets, f"user{i % 3}", f"session{i}")
        guarded = GuardedLLM(llm, gate, scopes, 0, limits)
        async with slots:
            reply = await guarded.grade(GradeRequest(question=question, answer=f"answer-{i}: an index avoids a scan"))
        return i, reply.value.grader

    return dict(await asyncio.gather(*(one(i) for i in answers)))


def main(argv: list[str]) -> None:
    url, mode, first, count, cap = argv[0], argv[1], int(argv[2]), int(argv[3]), float(argv[4])
    answers = range(first, first + count)
    ready = Path(argv[5]) if len(argv) > 5 else None
    scripts = {i: ["hang"] if mode == "hang" else script_for(i) for i in answers}
    api = BilledAPI(scripts, ready)
    budgets = Budgets(session_usd=cap, user_daily_usd=cap, global_daily_usd=cap)
    engine = open_engine(url)
    graders = asyncio.run(grade_answers(api, gate_for(BudgetLedger(engine), budgets), budgets,
                                        Limits(model_calls_per_turn=3), answers))
    print(json.dumps({"requests": api.requests, "billed_usd": api.billed_usd, "graders": graders}))


if __name__ == "__main__":
    main(sys.argv[1:])
