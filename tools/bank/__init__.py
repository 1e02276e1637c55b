"""The question bank: YAML files validated against `agent.domain.Question` on load.

    bank = QuestionBank.load()          # the bank shipped with the coach
    bank.question("rag.chunking")       # one question
    bank.questions(topic="sql")         # filtered, in file order
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from agent.domain import InterviewFormat, Question, QuestionKind
from agent.errors import ConfigError, NotFound

QUESTIONS_DIR = Path(__file__).with_name("questions")
FORMATS_FILE = Path(__file__).with_name("formats.yaml")

try:  # the C loader is ~10x faster where libyaml is present
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader  # type: ignore[misc]


class QuestionBank:
    def __init__(self, questions: list[Question]) -> None:
        self._by_id: dict[str, Question] = {}
        for q in questions:
            if q.id in self._by_id:
                raise ConfigError(f"question id {q.id!r} appears twice in the bank")
            self._by_id[q.id] = q

    @classmethod
    def load(cls, directory: Path = QUESTIONS_DIR) -> QuestionBank:
        return _load_cached(directory.resolve())

    def __len__(self) -> int:
        return len(self._by_id)

    def question(self, question_id: str) -> Question:
        try:
            return self._by_id[question_id]
        except KeyError:
            raise NotFound(f"no question {question_id!r} in the bank") from None

    def questions(self, topic: str | None = None, kind: QuestionKind | None = None) -> list[Question]:
        return [
            q
            for q in self._by_id.values()
            if (topic is None or q.topic == topic) and (kind is None or q.kind == kind)
        ]

    def topics(self) -> dict[str, int]:
        return dict(sorted(Counter(q.topic for q in self._by_id.values()).items()))

    def require_topic(self, topic: str) -> str:
        """The topic's canonical slug, or a NotFound that lists the topics there are."""
        slug = topic.strip().lower().replace(" ", "_").replace("-", "_")
        if slug not in self.topics():
            raise NotFound(f"unknown topic {topic!r}; choose one of: {', '.join(self.topics())}")
        return slug


@lru_cache(maxsize=8)
def _load_cached(directory: Path) -> QuestionBank:
    questions: list[Question] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or []
            questions.extend(Question.model_validate(item) for item in raw)
        except (yaml.YAMLError, ValidationError) as err:
            raise ConfigError(f"question bank file {path.name} is invalid: {err}") from None
    if not questions:
        raise ConfigError(f"the question bank at {directory} is empty")
    return QuestionBank(questions)


@lru_cache(maxsize=4)
def load_formats(path: Path = FORMATS_FILE) -> dict[str, InterviewFormat]:
    """The interview formats, by id."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or []
        formats = [InterviewFormat.model_validate(item) for item in raw]
    except (OSError, yaml.YAMLError, ValidationError) as err:
        raise ConfigError(f"interview formats file {path} is invalid: {err}") from None
    return {f.id: f for f in formats}


def require_format(format_id: str) -> InterviewFormat:
    formats = load_formats()
    if format_id not in formats:
        raise NotFound(f"unknown format {format_id!r}; choose one of: {', '.join(formats)}")
    return formats[format_id]
