"""How well an answer states a reference: a short vector of comparable, continuous features.

Why features and not a verdict: people grade by degree. Lexical recall alone misses paraphrase
("execute them concurrently" vs "run calls in parallel"), rewards an answer that repeats the
question, and cannot see a negation or a wrong number. Each feature below captures one of those
effects; `combiner.py` weighs them with coefficients learned from human grades.

All features are cheap: stems and sets, one small matrix product of static word vectors.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np

from agent.grading import embeddings
from agent.grading.terms import OPPOSITE
from agent.grading.text import NEGATIONS, STOPWORDS, canonical, stem

FEATURE_NAMES: tuple[str, ...] = (
    "lex_recall",          # share of the reference's content stems found in the answer
    "lex_precision",       # share of the answer's content stems found in the reference
    "soft_recall",         # each reference word's best cosine over the answer's words (exact stem = 1)
    "soft_precision",      # each answer word's best cosine over the reference's words
    "lex_recall_new",      # lexical recall over reference words the question does not already say
    "soft_recall_new",     # soft recall over reference words the question does not already say
    "soft_precision_new",  # soft precision over answer words the question does not already say
    "sentence_cosine",     # cosine of the mean word vectors
    "sentence_cosine_new", # the same with the question's words removed from both sides
    "log_length",          # log(1 + content words in the answer)
    "length_ratio",        # log((1 + answer words) / (1 + reference words))
    "negation_mismatch",   # one side negates and the other does not
    "numbers_matched",     # share of the reference's numbers the answer states (as numbers)
    "question_echo",       # share of the answer's content words that only repeat the question
    "soft_only",           # soft recall minus lexical recall: related but different words
    "recall_x_precision",  # soft recall times soft precision (both needed for a full answer)
    "names_recall",        # share of the reference's names and numbers ("bulb A", "terminal 4") stated
    "names_extra",         # share of the answer's names not in the reference or question (wrong bulb)
    "opposite_term",       # the answer uses the opposite of a reference term the answer lacks
    "bigram_recall",       # share of the reference's adjacent content-stem pairs kept in order
    "no_attempt",          # "I don't know", "no idea"
    "negation_flip",       # share of shared content words negated on one side only ("not connected")
    "answer_negated",      # the answer says "not", "no", "never", ... anywhere
)

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
_UNITS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mb": 1e6, "b": 1e9, "billion": 1e9,
          "gb": 1e9, "tb": 1e12, "kb": 1e3, "percent": 1.0, "%": 1.0}
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)\s*(k|m|b|kb|mb|gb|tb|thousand|million|billion|percent|%)?\b", re.IGNORECASE)
_NO_ATTEMPT = re.compile(
    r"^\W*(i\s+(do\s*n[o'\"]?t|dont|have\s+no\s+idea)|no\s+idea|not\s+sure|pass|skip|idk|\?+)\b", re.IGNORECASE)
_SENT_START = re.compile(r"(?:^|[.!?]\s+)$")
NEGATION_SCOPE = 3
_ID_FOLLOWERS = frozenset({"and", "or", "is", "are", "was", "were", "has", "have", "to", "in", "on"})


@dataclass(frozen=True)
class Words:
    """The content words of a text: surface forms, their stems, and the stem set."""

    words: tuple[str, ...]
    stems: tuple[str, ...]
    stem_set: frozenset[str]
    negated: bool
    numbers: frozenset[float]
    no_attempt: bool = False
    negated_stems: frozenset[str] = frozenset()
    """Stems within NEGATION_SCOPE tokens after a negation ("not *connected*")."""

    @property
    def names(self) -> frozenset[str]:
        """Letters used as names and bare numbers: must match exactly, never softly."""
        return frozenset(s for s in self.stem_set if s.startswith("zz") or s[:1].isdigit())


_NAMED = re.compile(r"\b(?:bulbs?|switch(?:es)?|terminals?|nodes?|points?|servers?|replicas?|options?)\s+"
                    r"([a-hj-z])\b((?:\s*(?:,|and|or|&)\s*[a-hj-z]\b)*)", re.IGNORECASE)


def _identifier_text(text: str) -> str:
    """Rewrite single letters used as names ("bulb A", "bulbs a and c", "switch Z") into tokens
    that survive lower-casing and stopword removal; "A" opening a sentence stays the article."""
    text = re.sub(r'(?<=[a-z])"(?=t\b)', "", text)  # "aren"t" typed with a double quote
    text = _NAMED.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + " ".join(
        f"zz{c.lower()}" for c in re.findall(r"\b([a-hj-z])\b", m.group(0)[m.start(1) - m.start(0):], re.IGNORECASE)), text)
    out = []
    for m in re.finditer(r"\b([A-HJ-Z])\b", text):
        start = m.start()
        letter = m.group(1)
        if letter == "A" and _SENT_START.search(text[:start]):
            rest = text[m.end():].split(None, 1)
            if not rest or re.sub(r"\W", "", rest[0]).lower() not in _ID_FOLLOWERS:
                continue
        out.append((start, m.end(), f"zz{letter.lower()}"))
    for start, end, repl in reversed(out):
        text = text[:start] + repl + text[end:]
    return text


def numbers_in(text: str) -> frozenset[float]:
    """Numeric values with their scale ("600 GB" -> 6e11, "4 pools" -> 4, "1.3k" -> 1300)."""
    values = set()
    for m in _NUMBER.finditer(text):
        raw = m.group(1).replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        values.add(value * _UNITS.get((m.group(2) or "").lower(), 1.0))
    return frozenset(values)


@lru_cache(maxsize=20_000)
def words_of(text: str) -> Words:
    """Content words of `text` (stopwords and negations dropped), cached: rubrics repeat."""
    raw = canonical(_identifier_text(text))
    toks = re.findall(r"o\([^)]{1,12}\)|[a-z0-9]+(?:[.+#][a-z0-9]+)*", raw)
    kept = [t for t in toks if t not in STOPWORDS and t not in NEGATIONS and (len(t) > 1 or t.isdigit())]
    stems = tuple(stem(t) for t in kept)
    negated = frozenset(stem(t) for i, t in enumerate(toks)
                        if t not in STOPWORDS and t not in NEGATIONS
                        and any(x in NEGATIONS for x in toks[max(0, i - NEGATION_SCOPE): i]))
    return Words(tuple(kept), stems, frozenset(stems), any(t in NEGATIONS for t in toks), numbers_in(text),
                 bool(_NO_ATTEMPT.match(text)) and len(toks) < 12, negated)


def _bigrams(stems: tuple[str, ...]) -> set[tuple[str, str]]:
    return set(pairwise(stems))


def _loose_bigrams(stems: tuple[str, ...]) -> set[tuple[str, str]]:
    """Ordered pairs up to two words apart: "closed path" still meets "closed circuit path"."""
    return {(stems[i], stems[j]) for i in range(len(stems)) for j in range(i + 1, min(i + 3, len(stems)))}


def _soft(sims: np.ndarray, axis: int) -> np.ndarray:
    """Best similarity of each row (axis=1) or column (axis=0); empty gives an empty array."""
    if sims.size == 0:
        return np.zeros(sims.shape[1 - axis] if sims.ndim == 2 else 0, dtype=np.float32)
    return np.asarray(np.maximum(sims.max(axis=axis), 0.0))  # cosines never exceed 1


def similarity_matrix(ref: Words, ans: Words) -> np.ndarray:
    """Cosine of every reference word with every answer word; an exact stem match counts 1."""
    if not ref.words or not ans.words:
        return np.zeros((len(ref.words), len(ans.words)), dtype=np.float32)
    sims = embeddings.matrix(ref.words) @ embeddings.matrix(ans.words).T
    same = np.array(ref.stems)[:, None] == np.array(ans.stems)[None, :]
    return np.where(same, 1.0, sims).astype(np.float32)


def _mean(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    if mask is not None:
        values = values[mask]
    return float(values.sum()) / values.size if values.size else 0.0


def features(reference: str, answer: str, question: str = "") -> np.ndarray:
    """The FEATURE_NAMES vector for one answer against one reference (and its question)."""
    ref, ans, q = words_of(reference), words_of(answer), words_of(question)
    return features_of(ref, ans, q)


def features_of(ref: Words, ans: Words, q: Words, sims: np.ndarray | None = None) -> np.ndarray:
    if sims is None:
        sims = similarity_matrix(ref, ans)
    ref_best = _soft(sims, axis=1)
    ans_best = _soft(sims, axis=0)
    ref_new = np.array([s not in q.stem_set for s in ref.stems], dtype=bool)
    ans_new = np.array([s not in q.stem_set for s in ans.stems], dtype=bool)
    if not ref_new.any():
        ref_new = np.ones(len(ref.stems), dtype=bool)  # the reference only restates the question
    lex = np.array([s in ans.stem_set for s in ref.stems], dtype=bool)
    lex_recall = _mean(lex.astype(np.float32))
    lex_precision = _mean(np.array([s in ref.stem_set for s in ans.stems], dtype=np.float32))
    soft_recall = _mean(ref_best)
    soft_precision = _mean(ans_best)
    ref_words_new = tuple(w for w, keep in zip(ref.words, ref_new, strict=True) if keep)
    ans_words_new = tuple(w for w, keep in zip(ans.words, ans_new, strict=True) if keep)
    cos = float(embeddings.mean_vector(tuple(ref.words)) @ embeddings.mean_vector(tuple(ans.words))) if ans.words else 0.0
    cos_new = (float(embeddings.mean_vector(ref_words_new) @ embeddings.mean_vector(ans_words_new))
               if ans_words_new and ref_words_new else 0.0)
    numbers = (sum(any(_close(n, m) for m in ans.numbers) for n in ref.numbers) / len(ref.numbers)
               if ref.numbers else 1.0)
    echo = 1.0 - _mean(ans_new.astype(np.float32)) if ans.stems else 0.0
    ref_names, ans_names = ref.names, ans.names
    names_recall = len(ref_names & ans_names) / len(ref_names) if ref_names else 1.0
    names_extra = (len(ans_names - ref_names - q.names) / len(ans_names)) if ans_names else 0.0
    opposite = float(any(OPPOSITE.get(s) in ans.stem_set and s not in ans.stem_set for s in ref.stem_set))
    ref_pairs = _bigrams(ref.stems)
    bigram_recall = len(ref_pairs & _loose_bigrams(ans.stems)) / len(ref_pairs) if ref_pairs else lex_recall
    shared = (ref.stem_set & ans.stem_set) - q.stem_set or ref.stem_set & ans.stem_set
    flip = (sum((s in ref.negated_stems) != (s in ans.negated_stems) for s in shared) / len(shared)
            if shared else 0.0)
    return np.array([
        lex_recall,
        lex_precision,
        soft_recall,
        soft_precision,
        _mean(lex.astype(np.float32), ref_new),
        _mean(ref_best, ref_new),
        _mean(ans_best, ans_new),
        cos,
        cos_new,
        math.log1p(len(ans.words)),
        math.log((1 + len(ans.words)) / (1 + len(ref.words))),
        float(ref.negated != ans.negated),
        numbers,
        echo,
        soft_recall - lex_recall,
        soft_recall * soft_precision,
        names_recall,
        names_extra,
        opposite,
        bigram_recall,
        float(ans.no_attempt),
        flip,
        float(ans.negated),
    ], dtype=np.float32)


def _close(a: float, b: float) -> bool:
    """Numbers agree within 15 percent: "about 600 GB" matches "roughly 580 GB"."""
    return a == b or (max(a, b) > 0 and abs(a - b) / max(abs(a), abs(b)) <= 0.15)
