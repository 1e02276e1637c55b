"""The learned combiner: features -> a score in [0, 1], from coefficients shipped as JSON.

Why learned: how much precision should count against recall, how much a negation mismatch should
cost, is an empirical question. A ridge regression fitted to human grades (`evals/train_grader.py`,
train splits only) answers it with a few hundred numbers, stays deterministic, and costs one dot
product per answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

COMBINER_PATH = Path(__file__).with_name("combiner.json")


INTERACTING: tuple[str, ...] = (
    "lex_recall", "soft_recall_new", "soft_precision", "negation_mismatch", "opposite_term",
    "names_extra", "log_length", "sentence_cosine", "negation_flip", "answer_negated",
)
"""Features whose pairwise products the combiner may use: chosen by grouped cross-validation on
the train split (all pairs overfit one corpus; none underfits the other)."""


def expand(x: np.ndarray, interacting: list[int] | None = None) -> np.ndarray:
    """Features plus pairwise products and squares of the `interacting` ones: lets a linear model
    say "recall counts only without a negation mismatch" without a tree or a network."""
    x = np.atleast_2d(x)
    if interacting is None:
        from agent.grading.features import FEATURE_NAMES

        interacting = [FEATURE_NAMES.index(n) for n in INTERACTING]
    if not interacting:
        return x
    c = x[:, interacting]
    iu = np.triu_indices(len(interacting))
    return np.hstack([x, c[:, iu[0]] * c[:, iu[1]]])


@dataclass
class Combiner:
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    interacting: list[int] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    alpha: float = 0.0
    trained_on: dict[str, int] = field(default_factory=dict)
    attribution: str = ""

    def __post_init__(self) -> None:
        self._mu = np.asarray(self.mean, dtype=np.float64)
        self._sd = np.asarray(self.scale, dtype=np.float64)
        self._w = np.asarray(self.weights, dtype=np.float64)

    def predict_many(self, x: np.ndarray, raw: bool = False) -> np.ndarray:
        """Scores for rows of (already expanded when raw=True) features, clipped to [0, 1]."""
        z = x if raw else expand(x, self.interacting)
        return np.clip(((z - self._mu) / self._sd) @ self._w + self.bias, 0.0, 1.0)

    def predict(self, x: np.ndarray) -> float:
        return float(self.predict_many(x)[0])

    def to_json(self) -> dict[str, Any]:
        return {"attribution": self.attribution, "features": self.features, "interacting": self.interacting,
                "alpha": self.alpha, "trained_on": self.trained_on, "bias": self.bias,
                "mean": [round(v, 6) for v in self.mean], "scale": [round(v, 6) for v in self.scale],
                "weights": [round(v, 6) for v in self.weights]}


@lru_cache(maxsize=1)
def shipped() -> Combiner:
    """The coefficients in the package, read once per process."""
    data = json.loads(COMBINER_PATH.read_text(encoding="utf-8"))
    return Combiner(mean=data["mean"], scale=data["scale"], weights=data["weights"], bias=data["bias"],
                    interacting=data.get("interacting", []), features=data.get("features", []),
                    alpha=data.get("alpha", 0.0), trained_on=data.get("trained_on", {}),
                    attribution=data.get("attribution", ""))
