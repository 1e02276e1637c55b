"""Train the offline grader's combiner on the open dev set's *train* split only.

    python -m evals.train_grader [--data DIR] [--out agent/grading/combiner.json]

Reads Beetle and SciEntsBank (SemEval-2013 Task 7, CC BY-SA 3.0) from ../shared/data/grading_dev
(or $COACH_GRADING_DEV), keeps `split == "train"`, computes `agent.grading.features` for every
answer against its reference answer, and fits a ridge regression onto `human_score`. Model choices
are made by cross-validation grouped by question inside train, never by the test splits. Only the
coefficients ship (a few hundred bytes of JSON); the data stays where it is.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from agent.grading.combiner import COMBINER_PATH, INTERACTING, Combiner, expand
from agent.grading.features import FEATURE_NAMES, features
from evals.devset import dev_dir, load_records
from evals.metrics import pearson

ATTRIBUTION = (
    "Coefficients fitted on the train splits of SemEval-2013 Task 7 Beetle and SciEntsBank "
    "(Dzikovska et al. 2013, https://aclanthology.org/S13-2045/; data from "
    "github.com/myrosia/semeval-2013-task7, licensed CC BY-SA 3.0; Beetle 5-way labels via "
    "github.com/ashudeep/Student-Response-Analysis). This file is a derivative of that data and is "
    "shared under CC BY-SA 3.0."
)


def feature_rows(records: Iterable[dict]) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    xs, ys, groups, datasets = [], [], [], []
    for r in records:
        xs.append(features(r["reference_answer"], r["answer"], r.get("question", "")))
        ys.append(float(r["human_score"]))
        groups.append(r.get("question_id", r["reference_answer"]))
        datasets.append(r.get("dataset", ""))
    return np.array(xs), np.array(ys), groups, datasets


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float, interacting: list[int] | None = None) -> Combiner:
    """Ridge on standardised features; the intercept is not penalised."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    a = z.T @ z + alpha * np.eye(z.shape[1])
    w = np.linalg.solve(a, z.T @ (y - y.mean()))
    return Combiner(mean=mu.tolist(), scale=sd.tolist(), weights=w.tolist(), bias=float(y.mean()),
                    interacting=interacting or [])


def grouped_cv(x: np.ndarray, y: np.ndarray, groups: list[str], datasets: list[str], alpha: float,
               folds: int = 5) -> dict[str, float]:
    """Pearson per data set when whole questions are held out (like test-unseen-questions)."""
    uniq = sorted(set(groups))
    rng = np.random.default_rng(7)
    order = rng.permutation(len(uniq))
    fold_of = {uniq[i]: k % folds for k, i in enumerate(order)}
    pred = np.zeros(len(y))
    g = np.array([fold_of[x_] for x_ in groups])
    for k in range(folds):
        model = fit_ridge(x[g != k], y[g != k], alpha)
        pred[g == k] = model.predict_many(x[g == k], raw=True)
    ds = np.array(datasets)
    return {d: round(pearson(pred[ds == d].tolist(), y[ds == d].tolist()), 4) for d in sorted(set(datasets))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=COMBINER_PATH)
    parser.add_argument("--alpha", type=float, default=None, help="fix the ridge penalty (else CV picks)")
    args = parser.parse_args()
    folder = args.data or dev_dir()
    if folder is None:
        raise SystemExit("grading_dev not found: set COACH_GRADING_DEV or put it at ../shared/data/grading_dev")
    train = [r for r in load_records(folder) if r["split"] == "train"]
    x, y, groups, datasets = feature_rows(train)
    best = None
    chosen = [FEATURE_NAMES.index(n) for n in INTERACTING]
    for name, interacting in (("linear", []), ("chosen pairs", chosen), ("all pairs", list(range(x.shape[1])))):
        xe = expand(x, interacting)
        for alpha in ([args.alpha] if args.alpha is not None else [30.0, 300.0, 3000.0]):
            cv = grouped_cv(xe, y, groups, datasets, alpha)
            print(f"{name:>12} alpha {alpha:>7}: grouped-CV Pearson {cv}")
            score = float(np.mean(list(cv.values())))
            if best is None or score > best[0]:
                best = (score, alpha, interacting)
    assert best is not None
    model = fit_ridge(expand(x, best[2]), y, best[1], best[2])
    model.features = list(FEATURE_NAMES)
    model.alpha = best[1]
    model.trained_on = {d: int(sum(1 for x_ in datasets if x_ == d)) for d in sorted(set(datasets))}
    model.attribution = ATTRIBUTION
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    print(f"alpha {best[1]}; wrote {args.out} from {len(y)} train answers")


if __name__ == "__main__":
    main()
