"""Guardrails: input limits and pricing. (Budgets and rate limits grow here.)"""

from __future__ import annotations

from agent.config import Limits, Price
from agent.domain import Usage
from agent.errors import AnswerRejected


def check_answer(text: str, limits: Limits) -> str:
    """The answer as it will be graded, or AnswerRejected saying what to do instead."""
    if "\x00" in text:
        raise AnswerRejected("Your answer contains a NUL byte; send plain text.")
    answer = text.strip()
    if not answer:
        raise AnswerRejected("Your answer is empty: type an answer, or use /hint, /skip or /end.")
    if len(answer) > limits.max_answer_chars:
        raise AnswerRejected(
            f"Your answer is {len(answer):,} characters; the limit is {limits.max_answer_chars:,}. "
            "Nothing was recorded: send a shorter answer (an interviewer wants the key ideas)."
        )
    return answer


def cost_usd(usage: Usage, prices: dict[str, Price]) -> float:
    """Price one model call from the pricing table; an unknown model prices at the dearest rate."""
    price = prices.get(usage.model) or max(prices.values(), key=lambda p: p.output)
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    ) / 1_000_000
