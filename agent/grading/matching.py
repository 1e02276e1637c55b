"""Credit for one rubric key point, with the sentence that earned it.

Why per point and per sentence: the interviewer probes the points an answer missed and shows the
candidate the words that earned each point, so a grade must say *which* sentence states *which*
point. A point's credit is continuous in [0, 1]: soft recall of the point's words (or one of its
signals) within one sentence or two adjacent ones, averaged with the learned combiner's view of the
same pair. Then the rules that word overlap cannot see: a negated statement earns nothing, a
definition bound to the opposite term the rubric names earns nothing, a labelled STAR section
earns its point, and numbers with units earn an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from agent.grading import embeddings, structure
from agent.grading.combiner import shipped
from agent.grading.features import Words, features_of, words_of
from agent.grading.terms import OPPOSITE
from agent.grading.text import NEGATIONS, STOPWORDS, sentences, stem, tokens

SOFT_FLOOR = 0.3
"""Word cosines at or below this are noise between unrelated words; at FLOOR + SPAN a synonym."""
SOFT_SPAN = 0.4
QUESTION_WORD_WEIGHT = 0.35
"""Words the question already says are worth less: repeating "index" does not explain an index."""
NEGATION_SCOPE = 4
FULL_CREDIT_AT = 0.97


@dataclass(frozen=True)
class Window:
    """A sentence (or two adjacent ones) of an answer, as text, tokens and content words."""

    text: str
    tokens: tuple[str, ...]
    words: Words
    single: bool


@dataclass(frozen=True)
class PointMatch:
    credit: float
    evidence: str
    reason: str = ""
    """Why the credit is what it is when a rule decided: negated, swapped, labelled, estimate."""
    misbound: str = ""
    """For a swapped point: the sentence that states it bound to the other term."""


@dataclass(frozen=True)
class RubricPoint:
    """What the matcher needs of a key point (no validation: graded data may be one word)."""

    id: str
    text: str
    weight: float = 1.0
    signals: tuple[str, ...] = ()


class AnswerIndex:
    """Every sentence of the candidate's answers with one word-vector matrix for all of them.

    Why one matrix: a rubric has several points with several signals each, and the answer has
    many sentences; one product per phrase and a `maximum.reduceat` over sentence boundaries
    scores every sentence and every adjacent pair at once, which keeps a grade within a few ms.
    """

    def __init__(self, texts: list[str]) -> None:
        self._build(_clauses(texts))

    @staticmethod
    def of(texts: list[str]) -> AnswerIndex:
        """The index of `texts`, shared by every texts that split into the same clauses.

        Why shared: one action matches the same answer twice (the grade, then which points were
        already stated, on a text that differs only in what the splitter drops), and the
        matches per point are kept on the index (`matches`), so the second pass is a lookup.
        """
        return _index_of(_clauses(texts))

    def _build(self, clauses: tuple[tuple[str, int], ...]) -> None:
        singles: list[Window] = []
        text_of: list[int] = []
        for p, n in clauses:
            singles.append(Window(p, tuple(tokens(p)), words_of(p), True))
            text_of.append(n)
        self.matches: dict[object, PointMatch] = {}
        """match_point results by their other inputs (see `match_points` in offline.py)."""
        self.singles = singles
        self.pairs = [(i, i + 1) for i in range(len(singles) - 1) if text_of[i] == text_of[i + 1]]
        self.stems = np.array([s for w in singles for s in w.words.stems])
        self.matrix = embeddings.matrix([x for w in singles for x in w.words.words])
        self.starts = np.cumsum([0] + [len(w.words.words) for w in singles[:-1]]) if singles else np.zeros(0, int)

    def window(self, k: int) -> Window:
        """Window k: singles first, then adjacent pairs."""
        if k < len(self.singles):
            return self.singles[k]
        i, j = self.pairs[k - len(self.singles)]
        text = f"{self.singles[i].text} {self.singles[j].text}"
        return Window(text, tuple(tokens(text)), words_of(text), False)

    def recalls(self, phrase: Words, question: Words) -> np.ndarray:
        """Weighted soft recall of the phrase in every window (singles, then pairs)."""
        n_windows = len(self.singles) + len(self.pairs)
        if not phrase.words or not self.singles:
            return np.zeros(n_windows)
        stems, exact_only, weights = _phrase_arrays(phrase, question)
        sims = embeddings.matrix(phrase.words) @ self.matrix.T
        adj = np.clip((sims - SOFT_FLOOR) / SOFT_SPAN, 0.0, 1.0)
        adj[exact_only] = 0.0
        adj[stems[:, None] == self.stems[None, :]] = 1.0
        per_single = np.maximum.reduceat(adj, self.starts, axis=1)  # (phrase words, singles)
        if self.pairs:
            i, j = np.array(self.pairs).T
            per_window = np.hstack([per_single, np.maximum(per_single[:, i], per_single[:, j])])
        else:
            per_window = per_single
        return np.asarray((weights @ per_window) / weights.sum())


def _clauses(texts: list[str]) -> tuple[tuple[str, int], ...]:
    """Every clause with content words, with the number of the text it came from."""
    return tuple((p, n) for n, text in enumerate(texts) for s in sentences(text)
                 for step in structure.split_steps(s) for p in structure.split_clauses(step) if words_of(p).words)


@lru_cache(maxsize=16)
def _index_of(clauses: tuple[tuple[str, int], ...]) -> AnswerIndex:
    index = AnswerIndex.__new__(AnswerIndex)
    index._build(clauses)
    return index


@lru_cache(maxsize=20_000)
def _phrase_arrays(phrase: Words, question: Words) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A rubric phrase's stems, its names-only mask and its word weights: the same every grade."""
    stems = np.array(phrase.stems)
    exact_only = np.array([s.startswith("zz") or s[:1].isdigit() for s in phrase.stems])
    weights = np.array([QUESTION_WORD_WEIGHT if s in question.stem_set else 1.0 for s in phrase.stems])
    return stems, exact_only, weights


def _negated(window: Window, phrase: Words) -> bool:
    """Most of the point's matched words stand under a negation ("it does not reduce latency")."""
    wanted = phrase.stem_set
    seen: dict[str, bool] = {}
    toks = window.tokens
    for i, tok in enumerate(toks):
        s = stem(tok)
        if s in wanted and tok not in STOPWORDS:
            negated = any(t in NEGATIONS for t in toks[max(0, i - NEGATION_SCOPE): i])
            seen[s] = seen.get(s, True) and negated
    return bool(seen) and sum(seen.values()) * 2 > len(seen)


def rubric_opposites(texts: list[str], prompt: str = "") -> dict[str, str]:
    """Stems the rubric uses together with their opposite ("online" when "offline" is there too),
    plus the two terms a prompt compares ("difference between a container and a virtual machine"):
    only these can be swapped, so "reads" in an answer about writes is not a swap by itself."""
    stems = set().union(*(words_of(t).stem_set for t in texts)) if texts else set()
    pairs = {s: OPPOSITE[s] for s in stems if OPPOSITE.get(s) in stems}
    for a, b in structure.compared_terms(prompt):
        ua = [s for s in words_of(a).stems if s not in words_of(b).stem_set]
        ub = [s for s in words_of(b).stems if s not in words_of(a).stem_set]
        if ua and ub and ua[0] in stems and ub[0] in stems:
            pairs.setdefault(ua[0], ub[0])
            pairs.setdefault(ub[0], ua[0])
    return pairs


SWAP_STATED = 0.6
"""A sentence bound to the other term must carry this much of the point to be a swap, not chance."""
SWAP_MARGIN = 0.1
"""A sentence binding the point to the other term must match the rubric's wording this much better
than every correctly bound sentence to count as a swap (a correct statement elsewhere wins)."""


def _swapped(window: Words, anchors: frozenset[str], pairs: dict[str, str]) -> bool:
    return any(pairs[a] in window.stem_set and a not in window.stem_set for a in anchors)


def match_point(point: RubricPoint, index: AnswerIndex, question: Words,
                opposites: dict[str, str] | None = None, star: dict[str, str] | None = None) -> PointMatch:
    """The best credit any window earns for `point`, with that window as evidence."""
    own = words_of(point.text)
    phrases = [own, *(words_of(s) for s in point.signals)]
    opposites = opposites or {}
    # Only a point about one term of a pair can be bound to the wrong term; a point that names both
    # ("L1 adds absolute values, L2 squared ones") is judged on its words alone.
    anchors = frozenset(a for a in own.stem_set & frozenset(opposites) if opposites[a] not in own.stem_set)
    best = PointMatch(0.0, "")
    carried: list[tuple[float, int, Words]] = []  # (recall, window, phrase): each phrasing's best window
    own_swapped = ""
    n_single = len(index.singles)
    for phrase in phrases:
        if not phrase.words:
            continue
        r = index.recalls(phrase, question)
        if anchors:
            # A swap is judged sentence by sentence: the point is credited from sentences that bind
            # it to its own term, and it counts as swapped when, in the rubric's own wording, a
            # sentence bound to the other term states it clearly better than any correctly bound one.
            r = r[:n_single]
            swapped = np.array([_swapped(index.window(i).words, anchors, opposites) for i in range(r.size)], dtype=bool)
            if swapped.any():
                ok = float(r[~swapped].max()) if (~swapped).any() else 0.0
                worst = float(r[swapped].max())
                if phrase is own and worst >= SWAP_STATED and worst > ok + SWAP_MARGIN:
                    own_swapped = index.window(int(np.argmax(np.where(swapped, r, -1.0)))).text
                r = np.where(swapped, -1.0, r)
        if r.size and r.max() > 0:
            k = int(np.argmax(r))
            carried.append((float(r[k]), k, phrase))
    # The phrasing whose words the answer carries best decides; between phrasings that carry them
    # equally well, the one the combiner credits more (a signal worded like the answer) wins.
    top = max((c[0] for c in carried), default=0.0)
    denied = False
    for recall, k, phrase in (c for c in carried if c[0] >= top - 1e-6):
        window = index.window(k)
        soft = float(np.clip((recall - 0.15) / 0.55, 0.0, 1.0))
        learned = shipped().predict(features_of(phrase, window.words, question))
        learned = float(np.clip((learned - 0.2) / 0.6, 0.0, 1.0))
        # A point stated in full earns full credit: the blend tops out a little under 1 (the learned
        # view rarely says 1.0 for one sentence), so the top few hundredths are stretched onto 1.
        credit = min(1.0, (0.6 * soft + 0.4 * learned) / FULL_CREDIT_AT) if soft > 0 else 0.0
        if credit > 0 and _negated(window, phrase) and not phrase.negated:
            denied = True  # this phrasing is there only under a negation
        elif credit > best.credit:
            best = PointMatch(credit, window.text)
    if denied and best.credit == 0:
        best = PointMatch(0.0, "", "negated")
    if own_swapped:
        best = PointMatch(0.0, "", "swapped", misbound=own_swapped)  # stated, but bound to the other term
    label = structure.star_label_of(point.id, point.text)
    if star and label in star and len(words_of(star[label]).words) >= 3:
        section = star[label]
        first = sentences(section)[0] if sentences(section) else section
        if best.credit < 1.0:
            best = PointMatch(1.0, first, "labelled")
    if structure.ESTIMATE_POINT.search(point.text) and best.credit < 1.0:
        for w in index.singles:
            found = structure.quantities(w.text)
            credit = min(1.0, 0.5 + 0.25 * len(found)) if found else 0.0
            if credit > best.credit:
                best = PointMatch(credit, w.text, "estimate")
    return best
