"""The Claude grader against people: the same agreement table as the offline grader, with cost.

Why a separate, opt-in run: every grade is a paid API call. `coach eval --grader claude` grades an
evenly spaced sample of the dev set's test splits and of the interview golden set, estimates the
cost first, refuses to start above the cap, and asks before spending (unless --yes).
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import mean

from pydantic import BaseModel

from agent.catalog import Catalog
from agent.config import Price, Settings
from agent.domain import Grade, KeyPoint, Question, Usage
from agent.guardrails import cost_usd
from agent.llm.factory import make_llm
from agent.llm.port import LLM, GradeRequest, ModelFailed
from evals.devset import DATASETS, TEST_SPLITS, dev_dir, load_records
from evals.golden import load_handwritten
from evals.metrics import agreement

EST_INPUT_TOKENS = 900
"""A grading call's prompt (instructions, rubric, answer), for the estimate before spending."""
EST_OUTPUT_TOKENS = 350


class ClaudeEvalReport(BaseModel):
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    devset: dict[str, dict[str, float]]
    golden_in_band: float | None = None
    golden_mean_score_by_kind: dict[str, float] = {}
    failed: int = 0
    """Answers the model could not grade (unreachable, or output off the schema): left out."""


class ClaudeEvalPlan(BaseModel):
    """What a run would do and cost, to show before spending."""

    model: str
    calls: int
    estimate_usd: float


def plan_claude_eval(settings: Settings, limit: int) -> ClaudeEvalPlan:
    """How many grading calls `limit` means, and their worst-case cost at the grader's price."""
    calls = sum(len(v) for v in sample_devset(limit).values()) + limit
    price = settings.prices.get(settings.grader_model) or max(settings.prices.values(), key=lambda p: p.output)
    return ClaudeEvalPlan(model=settings.grader_model, calls=calls, estimate_usd=estimate_cost(calls, price))


def claude_grader(settings: Settings) -> LLM:
    """The Anthropic grader from settings; a clear ConfigError without a key."""
    return make_llm(settings, offline=False)


def record_question(n: int, record: dict) -> Question:
    """A dev-set record as a question; built without validation, since real references may be a
    single word and the model grades the text, not our schema's minimum lengths."""
    reference = record["reference_answer"]
    point = KeyPoint.model_construct(id="reference", text=reference, weight=1.0, signals=())
    return Question.model_construct(id=f"dev{n}", version=1, topic="devset", subtopic="", difficulty=2,
                                    kind="concept", prompt=record.get("question") or "(no question)",
                                    key_points=(point,), model_answer=reference, common_mistakes=(),
                                    follow_ups=(), tags=(), challenge=None)


def sample_devset(limit: int) -> dict[str, list[dict]]:
    folder = dev_dir()
    if folder is None:
        return {}
    groups: dict[str, list[dict]] = {}
    for r in load_records(folder):
        if r.get("split") in TEST_SPLITS:
            groups.setdefault(DATASETS.get(r["dataset"], r["dataset"]), []).append(r)
    return {d: rs[:: max(1, len(rs) // limit)][:limit] for d, rs in sorted(groups.items())}


def estimate_cost(calls: int, price: Price) -> float:
    return calls * (EST_INPUT_TOKENS * price.input + EST_OUTPUT_TOKENS * price.output) / 1_000_000


async def run_claude_eval(llm: LLM, prices: dict[str, Price], limit: int, bank: Catalog | None = None,
                          progress: Callable[[int], None] | None = None) -> ClaudeEvalReport:
    """Grade `limit` answers per dev data set and `limit` golden answers with `llm`."""
    bank = bank or Catalog.load()
    usages: list[Usage] = []
    devset: dict[str, dict[str, float]] = {}
    done = failed = 0
    for dataset, records in sample_devset(limit).items():
        scores, human = [], []
        for n, r in enumerate(records):
            grade = await _grade(llm, GradeRequest(question=record_question(n, r), answer=r["answer"]), usages)
            done += 1
            if grade is None:
                failed += 1
                continue
            scores.append(grade.score)
            human.append(float(r["human_score"]))
            if progress:
                progress(done)
        if len(scores) >= 2:
            devset[dataset] = agreement(scores, human)
    cases = load_handwritten()
    cases = cases[:: max(1, len(cases) // limit)][:limit] if limit else []
    in_band, by_kind = [], {}
    for case in cases:
        grade = await _grade(llm, GradeRequest(question=bank.question(case.question_id), answer=case.answer), usages)
        done += 1
        if grade is None:
            failed += 1
            continue
        in_band.append(grade.rating in case.bands)
        by_kind.setdefault(case.kind, []).append(grade.score)
        if progress:
            progress(done)
    return ClaudeEvalReport(
        model=getattr(llm, "name", "claude"), calls=len(usages),
        input_tokens=sum(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        cost_usd=round(sum(cost_usd(u, prices) for u in usages), 4), devset=devset,
        golden_in_band=round(mean(in_band), 4) if in_band else None,
        golden_mean_score_by_kind={k: round(mean(v), 3) for k, v in sorted(by_kind.items())}, failed=failed,
    )


async def _grade(llm: LLM, request: GradeRequest, usages: list[Usage]) -> Grade | None:
    """The model's grade, its usage added to `usages`; None when the model failed (still paid for)."""
    try:
        reply = await llm.grade(request)
    except ModelFailed as failure:
        usages += failure.usage
        return None
    usages += reply.usage
    return reply.value
