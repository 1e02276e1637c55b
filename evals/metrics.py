"""Agreement between a grader's scores and human scores: pure functions, no dependencies."""

from __future__ import annotations

import math
from collections import Counter


def pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def ranks(values: list[float]) -> list[float]:
    """1-based ranks; ties share the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float:
    return pearson(ranks(xs), ranks(ys))


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares a, b for y ~ a*x + b (a flat x fits the mean)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return a, my - a * mx


def rmse_rescaled(xs: list[float], ys: list[float]) -> float:
    """RMSE on the human scale after rescaling our [0, 1] scores linearly onto it."""
    a, b = linear_fit(xs, ys)
    return math.sqrt(sum((a * x + b - y) ** 2 for x, y in zip(xs, ys, strict=True)) / len(xs))


def quadratic_weighted_kappa(pred: list[int], gold: list[int]) -> float:
    lo, hi = min(pred + gold), max(pred + gold)
    k = hi - lo + 1
    if k == 1:
        return 1.0
    observed = Counter(zip(pred, gold, strict=True))
    hp, hg = Counter(pred), Counter(gold)
    n = len(pred)
    num = den = 0.0
    for i in range(lo, hi + 1):
        for j in range(lo, hi + 1):
            w = (i - j) ** 2 / (k - 1) ** 2
            num += w * observed[(i, j)]
            den += w * hp[i] * hg[j] / n
    return 1 - num / den if den else 1.0


def _levels(human: list[float]) -> list[float]:
    """The human scale's levels: its distinct values when few (0, 0.5, 1), else whole numbers."""
    distinct = sorted(set(human))
    if len(distinct) <= 11:
        return distinct
    return [float(v) for v in range(round(min(human)), round(max(human)) + 1)]


def agreement(scores: list[float], human: list[float]) -> dict[str, float]:
    """Pearson, Spearman, RMSE after a linear rescale, and QWK on the human scale's levels
    (our rescaled score snapped to the nearest level: 0/0.5/1 stays three levels, not two)."""
    a, b = linear_fit(scores, human)
    levels = _levels(human)
    index = {v: i for i, v in enumerate(levels)}
    nearest = [min(range(len(levels)), key=lambda i: abs(levels[i] - (a * s + b))) for s in scores]
    gold = [index.get(h, min(range(len(levels)), key=lambda i: abs(levels[i] - h))) for h in human]
    predicted = nearest
    return {
        "n": len(scores),
        "pearson": round(pearson(scores, human), 4),
        "spearman": round(spearman(scores, human), 4),
        "rmse": round(rmse_rescaled(scores, human), 4),
        "qwk": round(quadratic_weighted_kappa(predicted, gold), 4),
    }
