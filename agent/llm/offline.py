"""OfflineLLM: the deterministic interviewer and grader. Product code, the default with no key.

When an answer missed key points, it asks the bank's probe that the interviewer ranked first: the
point this candidate keeps missing, else the heaviest (main questions come from the bank as is). The grader is `OfflineGrader` (rubric coverage).
"""

from __future__ import annotations

from agent.domain import Grade
from agent.grading.offline import OfflineGrader
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
        """Nudge toward the next key point in rubric order without stating it."""
        q = request.question
        probes = {fu.key_point: fu.prompt for fu in q.follow_ups}
        candidates = [probes.get(kp.id) or f"Think about: {kp.id.replace('_', ' ')}." for kp in q.key_points]
        fresh = [c for c in candidates if c not in request.hints_given]
        if not fresh:
            return Reply(value="No more hints for this one: give it your best answer, or /skip.")
        return Reply(value=fresh[0])
