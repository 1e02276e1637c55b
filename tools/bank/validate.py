"""Checks on the whole bank beyond each item's schema: ids, links, rubrics, runnable challenges."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from agent.domain import Challenge, Question
from tools.bank import QUESTIONS_DIR, load_formats

if TYPE_CHECKING:
    from tools.runner import CodeRunner


def validate_bank(directory: Path = QUESTIONS_DIR, run_challenges: bool = True) -> list[str]:
    """Every problem found, as a sentence naming the file or id; empty means the bank is sound."""
    from tools.runner import CodeRunner, load_challenges

    problems: list[str] = []
    questions: list[Question] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as err:
            problems.append(f"{path.name}: not valid YAML ({err})")
            continue
        for n, item in enumerate(items, 1):
            try:
                questions.append(Question.model_validate(item))
            except ValidationError as err:
                problems.append(f"{path.name} item {n}: {err.errors()[0]['loc']} {err.errors()[0]['msg']}")
    for qid, count in Counter(q.id for q in questions).items():
        if count > 1:
            problems.append(f"{qid}: the id is used {count} times")
    challenges = load_challenges()
    for q in questions:
        if q.kind == "coding" and (not q.challenge or q.challenge not in challenges):
            problems.append(f"{q.id}: coding question without a known challenge ({q.challenge})")
        if q.kind != "coding" and not q.follow_ups and q.kind != "rapid_fire":
            problems.append(f"{q.id}: no follow-up probes")
    try:
        load_formats()
    except Exception as err:  # noqa: BLE001 - reported, not raised
        problems.append(f"formats: {err}")
    if run_challenges:
        runner = CodeRunner(warm_workers=1)  # one warm sandbox for the whole bank
        try:
            problems += _challenge_problems(runner, challenges)
        finally:
            runner.close()
    return problems


def _challenge_problems(runner: CodeRunner, challenges: dict[str, Challenge]) -> list[str]:
    """Each challenge has enough hidden cases, its reference passes and its wrong variant fails."""
    problems = []
    for c in challenges.values():
        if len([case for case in c.cases if not case.visible]) < 8:
            problems.append(f"challenge {c.id}: fewer than 8 hidden cases")
        good = runner.run_challenge(c.reference_solution, c)
        if good.status != "passed":
            problems.append(f"challenge {c.id}: the reference solution does not pass ({good.message})")
        if c.naive_wrong_solution and runner.run_challenge(c.naive_wrong_solution, c).status == "passed":
            problems.append(f"challenge {c.id}: the naive wrong solution passes every case")
    return problems
