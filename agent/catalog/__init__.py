"""The catalog: every question, coding challenge and interview format, from one directory.

    catalog = Catalog.load()                 # the bank shipped with the coach
    catalog = Catalog.load(Path("my-bank"))  # or yours (settings: COACH_BANK_DIR)
    catalog.question("rag.chunking"), catalog.questions(topic="sql")
    catalog.challenge("two-sum"), catalog.format("mock")

A bank directory holds `questions/*.yaml`, `challenges/*.yaml` and `formats.yaml`. A directory
of question files only (the older layout) keeps the bundled challenges and formats. Each YAML
file is parsed once per process, with the C loader where libyaml is present; the parsed YAML is
reused across processes while the files are unchanged (`cache.py`): the bundled bank's from beside
the package (`SHARED_CACHE`, for every home), and given a cache directory (the service passes one
under COACH_HOME) any bank's from there; every item is validated again on every load. Challenges are
read on first use (only coding rounds and the runner need them: ~40% of the bank's YAML), so a
broken challenge file is reported then, and by `coach bank validate` as always.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent.catalog.cache import cached_items, shared_cache_dir
from agent.domain import Challenge, InterviewFormat, Question, QuestionKind
from agent.errors import ConfigError, NotFound

BUNDLED = Path(__file__).resolve().parent
SHARED_CACHE: Path | None = shared_cache_dir(BUNDLED)
"""Where the bundled bank's parse is cached for every home (`cache.py`); None: only under COACH_HOME."""
M = TypeVar("M", bound=BaseModel)

try:  # the C loader is ~10x faster where libyaml is present
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


class BankLayout:
    """Where the three parts of a bank directory live (older layout: questions only)."""

    def __init__(self, directory: Path = BUNDLED) -> None:
        self.directory = directory.resolve()
        if not self.directory.is_dir():
            raise ConfigError(f"the question bank directory {directory} does not exist; fix COACH_BANK_DIR")
        nested = self.directory / "questions"
        self.questions = nested if nested.is_dir() else self.directory
        own_challenges = self.directory / "challenges"
        self.challenges = own_challenges if own_challenges.is_dir() else BUNDLED / "challenges"
        own_formats = self.directory / "formats.yaml"
        self.formats = own_formats if own_formats.is_file() else BUNDLED / "formats.yaml"


def read_yaml(path: Path) -> Any:
    """One YAML file's content; ConfigError naming the file when it cannot be read or parsed."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except UnicodeDecodeError as err:
        raise ConfigError(f"bank file {path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
                          f"{err.start}); save it as UTF-8") from None
    except (OSError, yaml.YAMLError) as err:
        detail = " ".join(str(err).split())
        raise ConfigError(f"bank file {path} cannot be read: {detail}; fix it or COACH_BANK_DIR") from None


def _items(path: Path) -> list[Any]:
    raw = read_yaml(path) or []
    if not isinstance(raw, list):
        raise ConfigError(f"bank file {path} must hold a list of items, not a {type(raw).__name__}; "
                          "start each item with `- `")
    return raw


def _parse(model: type[M], path: Path, items: list[Any] | None = None) -> list[M]:
    try:
        return [model.model_validate(item) for item in (_items(path) if items is None else items)]
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(f"bank file {path.name} is invalid: {first['loc']} {first['msg']}") from None


def _unique(items: Iterable[M], what: str) -> dict[str, M]:
    by_id: dict[str, M] = {}
    for item in items:
        key: str = item.id  # type: ignore[attr-defined]  # every catalog item has an id
        if key in by_id:
            raise ConfigError(f"{what} id {key!r} appears twice in the bank")
        by_id[key] = item
    return by_id


class Catalog:
    """Questions, challenges and formats by id; read-only once loaded."""

    def __init__(self, questions: Iterable[Question],
                 challenges: Iterable[Challenge] | Callable[[], Iterable[Challenge]] | None = None,
                 formats: Iterable[InterviewFormat] | None = None, source: Path | None = None) -> None:
        """Challenges and formats left out come from the bundled bank (a catalog built in code);
        `challenges` may be a function, called on first use."""
        self._questions: dict[str, Question] = _unique(questions, "question")
        if challenges is None or formats is None:
            bundled = Catalog.load()
            challenges = (lambda: bundled._challenges.values()) if challenges is None else challenges
            formats = bundled._formats.values() if formats is None else formats
        self._read_challenges: Callable[[], Iterable[Challenge]] | None = None
        self._loaded_challenges: dict[str, Challenge] | None = None
        if callable(challenges):
            self._read_challenges = challenges
        else:  # given in code: checked at once, as before
            self._loaded_challenges = _unique(challenges, "challenge")
        self._formats: dict[str, InterviewFormat] = _unique(formats, "format")
        self.source = source

    @property
    def _challenges(self) -> dict[str, Challenge]:
        if self._loaded_challenges is None:
            assert self._read_challenges is not None
            self._loaded_challenges = _unique(self._read_challenges(), "challenge")
        return self._loaded_challenges

    @classmethod
    def load(cls, directory: Path | None = None, cache_dir: Path | None = None) -> Catalog:
        """The bank in `directory` (default: the bundled one), loaded once per process; with
        `cache_dir`, its parsed YAML is kept there for the next process."""
        return _load_cached((directory or BUNDLED).resolve(), cache_dir)

    # --- questions ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._questions)

    def question(self, question_id: str) -> Question:
        try:
            return self._questions[question_id]
        except KeyError:
            raise NotFound(f"no question {question_id!r} in the bank") from None

    def questions(self, topic: str | None = None, kind: QuestionKind | None = None) -> list[Question]:
        return [q for q in self._questions.values()
                if (topic is None or q.topic == topic) and (kind is None or q.kind == kind)]

    def topics(self) -> dict[str, int]:
        return dict(sorted(Counter(q.topic for q in self._questions.values()).items()))

    def require_topic(self, topic: str) -> str:
        """The topic's canonical slug, or a NotFound that lists the topics there are."""
        slug = topic.strip().lower().replace(" ", "_").replace("-", "_")
        if slug not in self.topics():
            raise NotFound(f"unknown topic {topic!r}; choose one of: {', '.join(self.topics())}")
        return slug

    # --- challenges and formats ----------------------------------------------------------------

    @property
    def challenges(self) -> dict[str, Challenge]:
        return dict(self._challenges)

    def challenge(self, challenge_id: str) -> Challenge:
        if challenge_id not in self._challenges:
            known = ", ".join(sorted(self._challenges)) or "none"
            raise NotFound(f"no challenge {challenge_id!r}; known: {known}")
        return self._challenges[challenge_id]

    @property
    def formats(self) -> dict[str, InterviewFormat]:
        return dict(self._formats)

    def format(self, format_id: str) -> InterviewFormat:
        if format_id not in self._formats:
            raise NotFound(f"unknown format {format_id!r}; choose one of: {', '.join(self._formats)}")
        return self._formats[format_id]


def _shared_for(files: list[Path]) -> Path | None:
    """The shared cache, for files of the bundled bank only: a user's own bank stays in their home."""
    if SHARED_CACHE is None or not all(f.is_relative_to(BUNDLED) for f in files):
        return None
    return SHARED_CACHE


def compile_bundled() -> Path | None:
    """Write the bundled bank's shared cache now (at install time, like `compileall`); where it went."""
    if SHARED_CACHE is None:
        return None
    layout = BankLayout(BUNDLED)
    for files in ([*sorted(layout.questions.glob("*.yaml")), layout.formats], sorted(layout.challenges.glob("*.yaml"))):
        cached_items(files, _items, None, SHARED_CACHE, write_shared=True)
    return SHARED_CACHE


@lru_cache(maxsize=8)
def _load_cached(directory: Path, cache_dir: Path | None = None) -> Catalog:
    layout = BankLayout(directory)
    question_files = sorted(layout.questions.glob("*.yaml"))
    files = [*question_files, layout.formats]
    raw = dict(zip(files, cached_items(files, _items, cache_dir, _shared_for(files)), strict=True))
    questions = [q for path in question_files for q in _parse(Question, path, raw[path])]
    if not questions:
        raise ConfigError(f"the question bank at {layout.questions} is empty")
    formats = _parse(InterviewFormat, layout.formats, raw[layout.formats])

    def challenges() -> list[Challenge]:
        challenge_files = sorted(layout.challenges.glob("*.yaml"))
        items = cached_items(challenge_files, _items, cache_dir, _shared_for(challenge_files))
        return [c for path, got in zip(challenge_files, items, strict=True) for c in _parse(Challenge, path, got)]

    return Catalog(questions, challenges, formats, source=layout.directory)
