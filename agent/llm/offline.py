"""OfflineLLM: the deterministic interviewer and grader. Product code, the default with no key.

When an answer missed key points, it asks the bank's probe that the interviewer ranked first: the
point this candidate keeps missing, else the heaviest (main questions come from the bank as is). The grader is `OfflineGrader` (rubric coverage).
"""

from __future__ import annotations

from agent.domain import Grade
from agent.grading.offline import OfflineGrader
from agent.hints import offline_hint
from agent.llm.port import Ask, AskRequest, GradeRequest, HintRequest, Reply


class OfflineLLM:
    name = "offline"

    def __init__(self) -> None:
        self._grader = OfflineGrader()

    async def ask(self, request: AskRequest) -> Reply[Ask]:
        probe = request.probes[0]  # the interviewer orders probes most useful first
        return Reply(value=Ask(text=probe.prompt, probed_key_point=probe.key_point))

    async def grade(self, request: GradeRequest) -> Reply[Grade]:
        return Reply(value=self._grader.grade(request.question, request.answer, request.only, request.prior_answers))

    async def hint(self, request: HintRequest) -> Reply[str]:
        """A guiding question toward the requested key point that does not state it."""
        q = request.question
        point = request.key_point or q.key_points[0]
        return Reply(value=offline_hint(q, point, request.on_screen or [q.prompt], attempt=len(request.hints_given)))
