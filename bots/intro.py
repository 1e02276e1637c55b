"""What a candidate is told before a multi-section interview: its sections and their timing."""

from __future__ import annotations

from agent.domain import InterviewFormat
from bots.countdown import clock


def intro_lines(fmt: InterviewFormat) -> list[str]:
    """Plain text (callers escape it): the title, then one line per section. Empty for one section."""
    if len(fmt.sections) < 2:
        return []
    total = sum(s.count * s.time_budget_s for s in fmt.sections)
    lines = [f"{fmt.title}: {len(fmt.sections)} sections, about {clock(total)} in all. {fmt.description}".strip()]
    for n, s in enumerate(fmt.sections, 1):
        each = f"{clock(s.time_budget_s)} each" if s.count > 1 else clock(s.time_budget_s)
        lines.append(f"{n}. {s.name}: {s.count} question{'s' * (s.count != 1)}, {each}")
    return lines
