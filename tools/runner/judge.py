"""The judge: turn a challenge or a test file into a sandbox job, and the raw run into a verdict.

Expected values stay here. The sandbox reports what the code produced for each case; the
comparison happens in this process, and only visible cases show expected versus got.
"""

from __future__ import annotations

import math
import signal
from typing import Any

from tools.runner.cases import CallCase, Challenge, OpsCase
from tools.runner.result import RunResult, TestRecord
from tools.runner.sandbox import RawRun


def challenge_job(code: str, challenge: Challenge) -> dict[str, Any]:
    if challenge.kind == "class":
        ops_cases: list[dict[str, Any]] = [{"init_args": list(c.init_args), "ops": [{"method": o.method, "args": list(o.args)} for o in c.ops]}
                 for c in challenge.cases if isinstance(c, OpsCase)]
        return {"mode": "ops", "code": code, "entry_point": challenge.entry_point, "cases": ops_cases}
    cases = [{"args": list(c.args), "kwargs": dict(c.kwargs)} for c in challenge.cases if isinstance(c, CallCase)]
    return {"mode": "calls", "code": code, "entry_point": challenge.entry_point, "cases": cases}


def tests_job(code: str, test_code: str, entry_point: str | None) -> dict:
    return {"mode": "tests", "code": code, "test_code": test_code, "entry_point": entry_point}


def equal(got: Any, expected: Any, tolerance: float | None) -> bool:
    """Structural equality after JSON round-trips (tuples are lists); floats within tolerance."""
    if isinstance(expected, float) or isinstance(got, float):
        if isinstance(got, bool) or isinstance(expected, bool) or not isinstance(got, int | float):
            return False
        if not isinstance(expected, int | float):
            return False
        if math.isnan(expected) and math.isnan(got):
            return True
        return math.isclose(got, expected, rel_tol=tolerance or 1e-9, abs_tol=tolerance or 1e-9)
    if isinstance(expected, list | tuple):
        return (isinstance(got, list) and len(got) == len(expected)
                and all(equal(g, e, tolerance) for g, e in zip(got, expected, strict=True)))
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == {str(k) for k in expected}
                and all(equal(got[str(k)], v, tolerance) for k, v in expected.items()))
    return type(got) is type(expected) and got == expected


CPU_KILLED = {-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL}
"""Exit codes of a job stopped by its CPU limit (soft SIGXCPU, then SIGKILL at the hard limit);
bwrap reports a killed child as 128 + the signal."""


CANDIDATE_CPU_KILLED = {signal.SIGXCPU, signal.SIGKILL}
"""Signals that end the candidate's process at its CPU limit, as the harness reports them."""


def _status_from_run(raw: RawRun, records: list[TestRecord], load_error: str, signal_number: int) -> tuple[str, str]:
    err = raw.stderr.decode(errors="replace")
    if raw.out_of_memory:  # whatever followed (a judge killed, a clock run out) came from that
        return "memory", "the program ran out of memory (the job's memory limit covers all its processes)"
    if raw.output_exceeded:
        return "output_limit", "the program printed more than the output limit allows"
    if raw.timed_out:
        return "timeout", "the program ran past the wall-clock limit"
    if "MemoryError" in err or "MemoryError" in load_error or any("MemoryError" in r.error for r in records):
        return "memory", "the program ran out of memory"
    if raw.returncode in CPU_KILLED or signal_number in CANDIDATE_CPU_KILLED:
        return "timeout", "the program used up its CPU time (or killed the process that judges it)"
    return "", ""


def verdict(raw: RawRun, names: list[str], expected: list[Any] | None, visible: list[bool],
            tolerance: float | None = None, raises: list[str | None] | None = None) -> RunResult:
    """Compare the sandbox's records with the cases; anything missing or odd is a failure."""
    records: list[TestRecord] = []
    load_record = next((r for r in raw.records if r.get("kind") == "load_error"), {})
    load_error = str(load_record.get("error", ""))
    signal_value = load_record.get("signal")
    signal_number = signal_value if isinstance(signal_value, int) else 0
    done = any(r.get("kind") == "done" for r in raw.records)
    results = [r for r in raw.records if "kind" not in r]
    garbled = raw.garbled
    if expected is not None:  # data cases: one record per case index, compared here
        by_index: dict[int, dict] = {}
        for r in results:
            i = r.get("i")
            if not isinstance(i, int) or not 0 <= i < len(names) or i in by_index:
                garbled = garbled or "the result records were duplicated or out of range"
                continue
            by_index[i] = r
        for i, name in enumerate(names):
            records.append(_case_record(name, by_index.get(i), expected[i], visible[i], tolerance,
                                        (raises or [None] * len(names))[i]))
    else:  # assert-style tests: the records are the tests
        for r in results:
            if not isinstance(r.get("name"), str) or not isinstance(r.get("ok"), bool):
                garbled = garbled or "a test record was malformed"
                continue
            records.append(TestRecord(name=r["name"], passed=r["ok"], error=str(r.get("error", ""))[:2000]))
    stdout, stderr = raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace")
    status, message = _status_from_run(raw, records, load_error, signal_number)
    if not status:
        if load_error:
            status, message = "error", load_error
        elif garbled:
            status, message = "error", f"{garbled}; nothing from this run counts as passed"
        elif not done:
            code = raw.returncode
            how = f"it was killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            status, message = "error", f"the program stopped before the judge confirmed every test ({how})"
        elif not records:
            status, message = "error", "no test ran"
        elif all(r.passed for r in records):
            status, message = "passed", f"all {len(records)} tests passed"
        else:
            status, message = "failed", f"{sum(r.passed for r in records)} of {len(records)} tests passed"
    return RunResult(status=status, tests=records, stdout=stdout, stderr=stderr,
                     duration_ms=round(raw.duration_ms, 2), message=message)


def _case_record(name: str, record: dict | None, expected: Any, visible: bool, tolerance: float | None,
                 raises: str | None) -> TestRecord:
    shown = expected if visible else None
    if record is None:
        return TestRecord(name=name, passed=False, expected=shown, error="no result: the program stopped before this case")
    if "values" in record:  # class-design case: the sequence of return values
        got = record.get("values")
        ok = record.get("ok") is True and equal(got, expected, tolerance)
        error = "" if record.get("ok") else str(record.get("error", ""))[:2000]
        return TestRecord(name=name, passed=ok, expected=shown, got=got if visible else None, error=error)
    if raises:
        ok = record.get("ok") is False and record.get("exc") == raises
        return TestRecord(name=name, passed=ok, expected=shown or (f"raises {raises}" if visible else None),
                          got=(record.get("value") if record.get("ok") else record.get("exc")) if visible else None,
                          error="" if ok else f"expected {raises} to be raised" if visible else "wrong behaviour")
    if record.get("ok") is not True:
        return TestRecord(name=name, passed=False, expected=shown, error=str(record.get("error", ""))[:2000])
    got = record.get("value")
    return TestRecord(name=name, passed=equal(got, expected, tolerance), expected=shown,
                      got=got if visible else None)
