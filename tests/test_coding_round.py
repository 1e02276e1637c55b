"""A coding round through the service: the graph sends the code to the runner over MCP."""

from __future__ import annotations

import pytest

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService

pytestmark = pytest.mark.anyio


async def test_code_answers_are_judged_by_hidden_tests_and_stored(settings: Settings) -> None:
    bank = Catalog.load()
    async with SessionService.open(settings.for_local_terminal(), offline=True, catalog=bank) as coach:
        step = await coach.start("kai", fmt="code")
        question = bank.question(step.prompt.question_id)
        challenge = Catalog.load().challenge(question.challenge)
        assert challenge.statement.split()[0] in step.prompt.text and "Starter:" in step.prompt.text
        hidden = [c for c in challenge.cases if not c.visible]
        shown = [c for c in challenge.cases if c.visible]
        assert all(c.model_dump_json() != v.model_dump_json() for c in hidden for v in shown)
        assert all(f"{challenge.entry_point}({', '.join(map(repr, c.args))})" not in step.prompt.text
                   for c in hidden if hasattr(c, "args") and c.args)  # hidden calls are not shown

        step = await coach.answer(step.session_id, "kai", challenge.naive_wrong_solution)
        [turn] = step.graded
        assert turn.grade.grader == "tests" and 0 < turn.grade.score < 1
        assert turn.code_runs[0].status == "failed" and turn.code_runs[0].total == len(challenge.cases)
        assert step.finished

        again = await coach.start("kai", fmt="code")
        solution = Catalog.load().challenge(bank.question(again.prompt.question_id).challenge).reference_solution
        again = await coach.answer(again.session_id, "kai", solution)
        assert again.graded[0].grade.score == 1.0 and again.graded[0].grade.rating == 4
        stored = coach.store.turns(again.session_id)
    assert stored[0].code_runs[0].status == "passed" and stored[0].answer == solution.strip()
