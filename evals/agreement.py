"""Agreement with people: the offline grader on the open dev set's *test* splits.

Why test splits only: the combiner is trained on `train`; reporting on the same answers would
measure memory, not grading. Pearson, Spearman and RMSE (after a linear rescale) per data set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agent.grading.reference import grade_free_text
from evals.devset import DATASETS, TEST_SPLITS, dev_dir, load_records
from evals.metrics import agreement


class DatasetAgreement(BaseModel):
    dataset: str
    n: int
    pearson: float
    spearman: float
    rmse: float
    qwk: float
    by_split: dict[str, float]
    """Pearson per test split."""


class DevReport(BaseModel):
    available: bool
    source: str = ""
    datasets: list[DatasetAgreement] = []


def evaluate_devset(folder: Path | None = None, limit: int | None = None) -> DevReport:
    """Grade every test-split answer; `limit` takes an evenly spaced sample per data set."""
    folder = folder or dev_dir()
    if folder is None:
        return DevReport(available=False)
    groups: dict[str, list[tuple[str, float, float]]] = {}
    for r in load_records(folder):
        if r.get("split") not in TEST_SPLITS:
            continue
        groups.setdefault(r["dataset"], []).append(r)  # type: ignore[arg-type]
    out = []
    for dataset, records in sorted(groups.items()):
        if limit:
            step = max(1, len(records) // limit)
            records = records[::step][:limit]
        rows = [(r["split"], grade_free_text(r["answer"], question=r.get("question", ""),
                                             reference=r["reference_answer"]).score, float(r["human_score"]))
                for r in records if str(r.get("answer", "")).strip() and str(r.get("reference_answer", "")).strip()]
        scores, human = [s for _, s, _ in rows], [h for _, _, h in rows]
        a = agreement(scores, human)
        by_split = {}
        for split in TEST_SPLITS:
            part = [(s, h) for sp, s, h in rows if sp == split]
            if len(part) >= 2:
                by_split[split] = agreement([s for s, _ in part], [h for _, h in part])["pearson"]
        out.append(DatasetAgreement(dataset=DATASETS.get(dataset, dataset), n=len(rows), pearson=a["pearson"],
                                    spearman=a["spearman"], rmse=a["rmse"], qwk=a["qwk"], by_split=by_split))
    return DevReport(available=True, source=str(folder), datasets=out)
