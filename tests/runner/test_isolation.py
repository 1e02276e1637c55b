"""Isolation between jobs and between coach processes: uids, cgroups, the seccomp filter, leftovers.

Each test uses the real sandbox (or, for the filter of an architecture this machine is not, an
interpreter of the BPF program bubblewrap would install).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.runner import CodeRunner, SandboxLimits, cgroup, seccomp
from tools.runner.sandbox import _pids_of

ROOT = Path(__file__).resolve().parents[2]


# --- the seccomp program, evaluated --------------------------------------------------------------

def run_filter(program: bytes, arch: int, nr: int) -> int:
    """What the classic BPF program answers for a system call (the subset seccomp.py emits)."""
    insns = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    data = struct.pack("=iI", nr, arch)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack("=I", data[k:k + 4])[0]
            pc += 1
        elif code in (0x15, 0x35):  # jeq / jge #k
            hit = acc == k if code == 0x15 else acc >= k
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_the_filter_refuses_the_listed_calls_and_allows_the_rest(machine: str) -> None:
    program = seccomp.program(machine)
    assert program is not None
    audit_arch, table = seccomp.ARCHES[machine]
    refuse, allow, kill = 0x00050000 | 1, 0x7FFF0000, 0x80000000
    for name in seccomp.BLOCKED:
        if name in table:
            assert run_filter(program, audit_arch, table[name]) == refuse, name
    refused = {table[n] for n in seccomp.BLOCKED if n in table}
    everyday = [nr for nr in range(0, 460) if nr not in refused]
    assert all(run_filter(program, audit_arch, nr) == allow for nr in everyday)
    assert run_filter(program, 0x40000003, 0) == kill  # i386 system calls from a 64-bit sandbox
    if machine == "x86_64":
        assert run_filter(program, audit_arch, 0x40000000 + 1) == refuse  # the x32 ABI


# --- memory and processes for the whole job ------------------------------------------------------

FORK_AND_ALLOCATE = """
import os, time
def touch(mib):
    hog = bytearray(mib * 1024 * 1024)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    return hog
for _ in range(4):
    if os.fork() == 0:
        hog = touch(120)
        time.sleep(30)
        os._exit(0)
def add(a, b):
    return a + b
time.sleep(30)
"""


@pytest.mark.slow  # real sandboxes: the full suite's, not the fast lane's
@pytest.mark.parametrize("warm", [0, 1], ids=["fresh sandbox", "warm sandbox"])
def test_forked_children_share_one_memory_limit(warm: int) -> None:
    if cgroup.detect() is None:
        pytest.skip(cgroup.describe())
    runner = CodeRunner(SandboxLimits(memory_mib=256, wall_seconds=8.0), warm_workers=warm)
    try:
        # each child stays under the per-process limit; together they are ~2x the job's limit
        result = runner.run_tests(FORK_AND_ALLOCATE, "assert add(1, 2) == 3\n")
        assert result.status == "memory", result
        after = runner.run_tests("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\n")
        assert after.status == "passed", after
    finally:
        runner.close()


SLEEPY = """
import time
time.sleep(4)  # long enough for the test to look at every process of the job from the host
def add(a, b):
    return a + b
"""


@pytest.mark.slow  # real sandboxes: the full suite's, not the fast lane's
@pytest.mark.parametrize("warm", [0, 1], ids=["fresh sandbox", "warm sandbox"])
def test_every_process_of_the_job_is_in_its_cgroup(warm: int) -> None:
    """Seen from the host (inside, the job's own cgroup namespace may show its cgroup as "/"):
    bwrap, the sandbox's init, the judge and the candidate all sit in the uid's job cgroup."""
    import time

    from tools.runner.sandbox import _uids

    layout = cgroup.detect()
    if layout is None:
        pytest.skip(cgroup.describe())
    wanted = ("",) if layout.version == 2 else ("memory", "pids")
    runner = CodeRunner(SandboxLimits(wall_seconds=10.0), warm_workers=warm)
    seen: dict[int, str] = {}
    try:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(runner.run_tests, SLEEPY, "assert add(1, 2) == 3\n")
            # Every process's last view counts (bwrap is moved in while it starts, before anything
            # of the candidate runs), sampled until the job ends.
            deadline = time.monotonic() + 60
            while not job.done() and time.monotonic() < deadline:
                snapshot: dict[int, str] = {}  # the processes alive now (a short-lived one may not be moved yet)
                for uid in _uids.held():
                    for pid in _pids_of(uid):
                        try:
                            snapshot[pid] = Path(f"/proc/{pid}/cgroup").read_text()
                        except OSError:
                            continue
                if len(snapshot) >= 3:
                    seen = snapshot
                time.sleep(0.05)
            result = job.result(timeout=120)
    finally:
        runner.close()
    assert result.status == "passed", result
    assert len(seen) >= 3, seen
    for pid, lines in seen.items():
        paths = {entry.split(":")[1]: entry.split(":", 2)[2] for entry in lines.split()}
        for controller in wanted:
            assert "/coach-sandbox/uid-" in paths[controller], (pid, controller, lines)


@pytest.mark.slow  # real sandboxes: the full suite's, not the fast lane's
def test_a_fork_bomb_stays_under_the_job_process_limit() -> None:
    code = textwrap.dedent("""
        import os, time
        count = 0
        try:
            while count < 500:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                count += 1
        except OSError:
            pass
        print("forked", count, flush=True)
        def add(a, b):
            return a + b
    """)
    runner = CodeRunner(SandboxLimits(processes=20, wall_seconds=5.0))
    result = runner.run_tests(code, "assert add(1, 2) == 3\n")
    forked = int(result.stdout.split()[1])
    assert forked <= 20, result.stdout


# --- nothing left behind -------------------------------------------------------------------------

LEAVE_AND_EXIT = """
import json, sys, tempfile
made = []
_mkdtemp = tempfile.mkdtemp
tempfile.mkdtemp = lambda *a, **k: made.append(_mkdtemp(*a, **k)) or made[-1]
from tools.runner import CodeRunner, SandboxLimits, sandbox
held = []
give = sandbox._uids.give
sandbox._uids.give = lambda uid: (held.append(uid), give(uid))
fresh, warm = CodeRunner(), CodeRunner(warm_workers=1)
code = "import subprocess\\ndef add(a, b):\\n    subprocess.Popen(['sleep', '60'], start_new_session=True)\\n    return a + b\\n"
statuses = [r.run_tests(code, "assert add(1, 2) == 3\\n").status for r in (fresh, warm)]
held += [w.uid for w in warm.pool._workers]  # handed back at exit, after this line
print(json.dumps({"statuses": statuses, "uids": held, "made": made, "bundle": str(fresh.sandbox.bundle)}))
# no close(): the process just ends
"""


@pytest.mark.slow  # real sandboxes: the full suite's, not the fast lane's
def test_no_file_process_or_cgroup_is_left_after_a_coach_process_exits() -> None:
    out = subprocess.run([sys.executable, "-c", LEAVE_AND_EXIT], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["statuses"] == ["passed", "passed"]
    assert [d for d in report["made"] if Path(d).exists()] == [], "a temporary directory was left behind"
    assert not report["bundle"].startswith(tempfile.gettempdir()), report["bundle"]
    assert len(report["uids"]) == 4  # two availability probes, the fresh job, the warm worker (at exit)
    for uid in report["uids"]:
        assert _pids_of(uid) == [] or uid_reused(uid), f"a process of uid {uid} outlived the coach process"
    layout = cgroup.detect()
    for base in layout.bases if layout else ():
        for uid in report["uids"]:
            assert not (base / f"uid-{uid}").exists() or uid_reused(uid), f"{base}/uid-{uid} was left behind"
    bundle = Path("/run/coach-sandbox")
    if os.geteuid() == 0 and bundle.exists():
        assert all(p.name.startswith("bundle-") for p in bundle.iterdir()), sorted(bundle.iterdir())


def uid_reused(uid: int) -> bool:
    """Another coach process on this machine (a parallel test run) holds the uid now."""
    import fcntl

    lock = Path("/run/coach-sandbox-uids") / f"{uid}.lock"
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


# --- between jobs of a warm sandbox --------------------------------------------------------------

@pytest.mark.slow  # real sandboxes: the full suite's, not the fast lane's
def test_no_system_v_ipc_object_reaches_the_next_warm_job() -> None:
    make = textwrap.dedent("""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        made = [libc.shmget(0x5eed, 4096, 0o1666), libc.semget(0x5eed, 1, 0o1666), libc.msgget(0x5eed, 0o1666)]
        def add(a, b):
            return a + b
    """)
    look = textwrap.dedent("""
        def add(a, b):
            rows = [len(open("/proc/sysvipc/" + kind).read().splitlines()) - 1 for kind in ("shm", "sem", "msg")]
            return a + b + sum(rows)
    """)
    runner = CodeRunner(warm_workers=1)
    try:
        runner.run_tests(make, "assert add(1, 2) == 3\n")
        for _ in range(2):
            assert runner.run_tests(look, "assert add(1, 2) == 3\n").status == "passed"
    finally:
        runner.close()


# --- size caps -----------------------------------------------------------------------------------

def test_oversized_tests_are_refused_with_what_to_do() -> None:
    runner = CodeRunner()
    result = runner.run_tests("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\n" * 20_000)
    assert result.status == "error" and "limit is 200,000" in result.message and "inside the tests" in result.message


@pytest.mark.slow
def test_the_cli_refuses_oversized_tests_with_exit_code_2(tmp_path: Path) -> None:
    solution, tests = tmp_path / "sol.py", tmp_path / "tests.py"
    solution.write_text("def add(a, b):\n    return a + b\n")
    tests.write_text("assert add(1, 2) == 3\n" * 8_000)  # 176,000 characters: over the coach's 100,000
    out = subprocess.run([sys.executable, "-m", "bots.cli", "run-code", str(solution), "--tests", str(tests)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(tmp_path)})
    assert out.returncode == 2, out
    assert out.stderr.startswith("error: ") and "limit is 100,000" in out.stderr


# --- two coach processes at once -----------------------------------------------------------------

@pytest.mark.slow
def test_two_coach_processes_each_pass_a_long_job_every_time(tmp_path: Path) -> None:
    solution, tests = tmp_path / "sol.py", tmp_path / "tests.py"
    solution.write_text("import time\n\ndef slow_add(a, b):\n    time.sleep(2.5)\n    return a + b\n")
    tests.write_text("assert slow_add(2, 3) == 5\n")

    def coach_run_code(n: int) -> dict:
        out = subprocess.run([sys.executable, "-m", "bots.cli", "run-code", str(solution), "--tests", str(tests),
                              "--json"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(tmp_path / f"home{n}")})
        assert out.returncode == 0, (out.stdout[-1000:], out.stderr[-1000:])
        return json.loads(out.stdout)

    for _ in range(2):
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(coach_run_code, range(2)))
        assert [r["status"] for r in results] == ["passed", "passed"], results
