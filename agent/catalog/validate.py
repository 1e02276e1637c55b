"""Checks on a whole bank beyond each item's schema: ids, links, rubrics, runnable challenges."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from agent.catalog import BUNDLED, BankLayout, M, read_yaml
from agent.domain import Challenge, InterviewFormat, Question
from agent.errors import ConfigError
from agent.hints import reveals
from tools.runner import CodeRunner


def _read_all(model: type[M], paths: list[Path], problems: list[str]) -> list[M]:
    items = []
    for path in paths:
        try:
            raw = read_yaml(path) or []
        except ConfigError as err:
            problems.append(str(err))
            continue
        if not isinstance(raw, list):
            problems.append(f"{path.name}: must hold a list of items")
            continue
        for n, item in enumerate(raw, 1):
            try:
                items.append(model.model_validate(item))
            except ValidationError as err:
                problems.append(f"{path.name} item {n}: {err.errors()[0]['loc']} {err.errors()[0]['msg']}")
    return items


def validate_bank(directory: Path = BUNDLED, runner: CodeRunner | None = None) -> list[str]:
    """Every problem found, as a sentence naming the file or id; empty means the bank is sound.

    With a `runner`, every challenge's reference must pass and its naive wrong variant fail."""
    problems: list[str] = []
    layout = BankLayout(directory)
    questions: list[Question] = _read_all(Question, sorted(layout.questions.glob("*.yaml")), problems)
    challenge_list: list[Challenge] = _read_all(Challenge, sorted(layout.challenges.glob("*.yaml")), problems)
    formats: list[InterviewFormat] = _read_all(InterviewFormat, [layout.formats], problems)
    for what, ids in (("question", [q.id for q in questions]), ("challenge", [c.id for c in challenge_list])):
        for item_id, count in Counter(ids).items():
            if count > 1:
                problems.append(f"{what} {item_id}: the id is used {count} times")
    challenges = {c.id: c for c in challenge_list}
    for q in questions:
        if q.kind == "coding" and (not q.challenge or q.challenge not in challenges):
            problems.append(f"{q.id}: coding question without a known challenge ({q.challenge})")
        if q.kind != "coding" and not q.follow_ups and q.kind != "rapid_fire":
            problems.append(f"{q.id}: no follow-up probes")
        for kp in q.key_points:
            if kp.hint and reveals(kp.hint, kp, [q.prompt]):
                problems.append(f"{q.id}: the hint for {kp.id} uses the point's own words; "
                                "reword it as a question that leads there without stating it")
    by_id = {q.id: q for q in questions}
    # A questions-only bank (the older layout) borrows the bundled formats; a bundled format that
    # names bundled questions is simply not available with it, which is not this bank's problem.
    own_formats = layout.formats != BUNDLED / "formats.yaml" or layout.directory == BUNDLED.resolve()
    for fmt in formats if own_formats else []:
        for section in fmt.sections:
            for qid in section.questions:
                if qid not in by_id:
                    problems.append(f"format {fmt.id}: section {section.name} names unknown question {qid}")
                elif by_id[qid].kind not in section.kinds:
                    problems.append(f"format {fmt.id}: question {qid} is {by_id[qid].kind}, not one of the section's kinds")
    for q in questions:
        if q.challenge and q.challenge not in challenges:
            problems.append(f"{q.id}: names unknown challenge {q.challenge}")
    for c in challenge_list:
        if not c.complexity.strip():
            problems.append(f"challenge {c.id}: no complexity (the discussion after the code needs one)")
    if runner is not None:
        problems += _challenge_problems(runner, challenges)
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
