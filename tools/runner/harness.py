"""Runs INSIDE the sandbox with the system Python and the standard library only.

    python3 -I -S harness.py RESULT_FD < job.json

Reads the job from stdin (before any candidate code runs), sets resource limits on itself, loads
the candidate's code as a module, then runs the job and writes one JSON line per test to the
result descriptor. It never sees expected values for hidden cases: it reports what the code
produced and the judge outside compares. A record that is missing, duplicated or malformed is
a failure there, so a program that exits early or prints "all passed" gains nothing.
"""

import ast
import json
import os
import resource
import sys
import traceback

MiB = 1024 * 1024


def set_limits(limits):
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mib"] * MiB,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_mib"] * MiB,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"],) * 2)


def encode(value):
    """JSON for plain data; tuples become lists; anything else is described by its repr."""
    try:
        return json.loads(json.dumps(value, allow_nan=True))
    except (TypeError, ValueError, RecursionError):
        return {"$repr": repr(value)[:500]}


def describe(err):
    lines = traceback.format_exception_only(type(err), err)
    return "".join(lines).strip()[:2000]


class Channel:
    def __init__(self, fd):
        self._fd = fd

    def emit(self, record):
        data = (json.dumps(record, allow_nan=True) + "\n").encode()
        while data:
            data = data[os.write(self._fd, data):]


def run_calls(ns, job, out):
    fn = ns.get(job["entry_point"])
    if not callable(fn):
        out.emit({"kind": "load_error", "error": "no function or class named {!r} was defined".format(job["entry_point"])})
        return
    for i, case in enumerate(job["cases"]):
        try:
            value = fn(*case.get("args", []), **case.get("kwargs", {}))
            out.emit({"i": i, "ok": True, "value": encode(value)})
        except BaseException as err:  # the candidate's error is the result
            out.emit({"i": i, "ok": False, "exc": type(err).__name__, "error": describe(err)})


def run_ops(ns, job, out):
    cls = ns.get(job["entry_point"])
    if not callable(cls):
        out.emit({"kind": "load_error", "error": "no class named {!r} was defined".format(job["entry_point"])})
        return
    for i, case in enumerate(job["cases"]):
        values = []
        try:
            obj = cls(*case.get("init_args", []))
            for op in case["ops"]:
                values.append(encode(getattr(obj, op["method"])(*op.get("args", []))))
            out.emit({"i": i, "ok": True, "values": values})
        except BaseException as err:
            out.emit({"i": i, "ok": False, "values": values, "exc": type(err).__name__, "error": describe(err)})


def run_tests(ns, job, out):
    """Assert-style tests: run the test module's top level in the candidate's namespace; each
    top-level assert, each test_* function and a HumanEval-style check(candidate) is a test."""
    tree = ast.parse(job["test_code"], "tests.py")
    n = 0
    for node in tree.body:
        if isinstance(node, ast.Assert):
            name = f"assert at line {node.lineno}"
            try:
                exec(compile(ast.Module([node], []), "tests.py", "exec"), ns)
                out.emit({"name": name, "ok": True})
            except BaseException as err:
                out.emit({"name": name, "ok": False, "error": describe(err)})
            n += 1
        else:
            exec(compile(ast.Module([node], []), "tests.py", "exec"), ns)
    tests = [(name, fn) for name, fn in ns.items() if name.startswith("test_") and callable(fn)]
    entry = ns.get("ENTRY_POINT") or job.get("entry_point")
    if callable(ns.get("check")) and entry:
        tests.append((f"check({entry})", lambda: ns["check"](ns[entry])))
    for name, fn in tests:
        try:
            fn()
            out.emit({"name": name, "ok": True})
        except BaseException as err:
            out.emit({"name": name, "ok": False, "error": describe(err)})
        n += 1
    if n == 0:
        out.emit({"kind": "load_error", "error": "the test file defines no assert, test_* function or check()"})


def main():
    out = Channel(int(sys.argv[1]))
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    set_limits(job["limits"])
    out.emit({"kind": "started"})  # the wall clock outside starts now, not while bwrap and Python start
    ns = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(compile(job["code"], "solution.py", "exec"), ns)
    except BaseException as err:
        out.emit({"kind": "load_error", "error": describe(err)})
        return
    {"calls": run_calls, "ops": run_ops, "tests": run_tests}[job["mode"]](ns, job, out)
    out.emit({"kind": "done"})


if __name__ == "__main__":
    main()
