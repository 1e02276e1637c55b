"""Where the open, human-graded dev set lives and how to read it.

The data (SemEval-2013 Task 7, CC BY-SA 3.0) is never copied into the repo: it is read from
$COACH_GRADING_DEV, else ../shared/data/grading_dev next to the repo root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT.parent / "shared" / "data" / "grading_dev"
TEST_SPLITS = ("test-unseen-answers", "test-unseen-questions", "test-unseen-domains")
DATASETS = {"semeval2013_beetle": "Beetle", "semeval2013_scientsbank": "SciEntsBank"}


def dev_dir() -> Path | None:
    """The dev-set folder, or None when it is not on this machine (evals then skip it)."""
    configured = os.environ.get("COACH_GRADING_DEV")
    folder = Path(configured) if configured else DEFAULT_DIR
    return folder if any(folder.glob("semeval2013_*.jsonl")) else None


def load_records(folder: Path) -> Iterator[dict]:
    for path in sorted(folder.glob("semeval2013_*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
