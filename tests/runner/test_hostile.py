"""Hostile submissions against the real sandbox: each is contained and never passes.

For every attack: the verdict is not "passed", no secret from the host appears in any output, no
process or cgroup of the job is left behind, the host is untouched, and the runner still answers.
The forging attacks on assert-style tests (FORGERIES) run a wrong solution that tries to make its
own tests pass. All of it runs in fresh and warm sandboxes while a second coach process runs
correct jobs on the same sandbox uids pool, which must all pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.domain import CallCase, Challenge
from tests.runner.conftest import CGROUPS_LEFT, LEFT_AT_RELEASE
from tools.runner import CodeRunner, SandboxLimits
from tools.runner.sandbox import _pids_of, _uids
from tools.runner.seccomp import ARCHES

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = ARCHES.get(os.uname().machine, (0, {}))[1]
REFUSED = {name: NUMBERS[name] for name in ("ptrace", "mount", "keyctl", "bpf", "personality", "unshare", "setns",
                                           "userfaultfd", "perf_event_open", "io_uring_setup", "shmget", "msgget")
           if name in NUMBERS}

SECRET = "sk-ant-test-SECRET-7f3a9c"
HIDDEN_ANSWER = 987654321

CHALLENGE = Challenge(
    id="answer", title="The answer", statement="Return the answer.", entry_point="solve",
    starter="def solve():\n    ...\n", reference_solution=f"def solve():\n    return {HIDDEN_ANSWER}\n",
    cases=(CallCase(args=(), expected=HIDDEN_ANSWER), CallCase(args=(), expected=HIDDEN_ANSWER)),
)

ATTACKS = {
    "fork bomb": """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """,
    "thread bomb": """
        import threading, time
        while True:
            threading.Thread(target=time.sleep, args=(100,)).start()
    """,
    "memory bomb": """
        hog = []
        while True:
            hog.append(bytearray(50 * 1024 * 1024))
    """,
    "fill tmpfs": """
        with open("/tmp/fill", "wb") as f:
            while True:
                f.write(b"x" * 1024 * 1024)
    """,
    "fill dev shm": """
        with open("/dev/shm/fill", "wb") as f:
            while True:
                f.write(b"x" * 1024 * 1024)
    """,
    "cpu loop ignoring signals": """
        import signal
        for s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        while True:
            pass
    """,
    "sleep forever": """
        import time
        time.sleep(10 ** 6)
    """,
    "huge output": """
        import sys
        while True:
            sys.stdout.write("spam" * 10000)
    """,
    "secrets via os.environ": """
        import os
        print(dict(os.environ))
        raise SystemExit(str(dict(os.environ)))
    """,
    "secrets via /proc environ": """
        import glob
        for path in glob.glob("/proc/*/environ"):
            try:
                print(path, open(path, "rb").read())
            except OSError as err:
                print(path, err)
    """,
    "read host files": """
        for path in ("/etc/shadow", "/etc/passwd", "/root/.bashrc", "CANARY", "/work"):
            try:
                print(open(path).read())
            except OSError as err:
                print("blocked", path, err)
    """,
    "read the hidden cases": """
        import gc, sys
        def look():
            wanted = "".join(["9876", "54321"])  # the hidden answer, built at run time: no constant holds it
            hits = sum(1 for o in gc.get_objects() if isinstance(o, (list, dict, tuple)) and wanted in repr(o))
            f = sys._getframe().f_back
            while f:
                hits += wanted in repr(f.f_locals)
                f = f.f_back
            return hits
        print("FOUND" if look() else "clean")
        def solve():
            return 0
    """,
    "write outside the work dir": """
        for path in ("/usr/evil", "/evil", "/opt/coach/evil", "/proc/evil"):
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as err:
                print("blocked", path, err)
    """,
    "tcp and dns": """
        import socket
        for host, port in (("127.0.0.1", 5432), ("1.1.1.1", 53), ("pypi.org", 443)):
            try:
                socket.create_connection((host, port), timeout=1)
                print("CONNECTED", host)
            except OSError as err:
                print("blocked", host, err)
    """,
    "unix sockets": """
        import socket, glob
        for path in glob.glob("/var/run/**/*", recursive=True) + ["/var/run/postgresql/.s.PGSQL.5432"]:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                print("CONNECTED", path)
            except OSError as err:
                print("blocked", path, err)
    """,
    "segfault via ctypes": """
        import ctypes
        ctypes.string_at(0)
    """,
    "deep recursion": """
        import sys
        sys.setrecursionlimit(10 ** 6)
        def down(n):
            return down(n + 1)
        down(0)
    """,
    "setsid daemon": """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        def solve():
            return 1
    """,
    "child holding stdout open": """
        import subprocess
        subprocess.Popen(["/usr/bin/sleep", "1000"])
        def solve():
            return 1
    """,
    "signal host processes": """
        import os, signal
        for pid in range(1, 400):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os.kill(VICTIM, signal.SIGKILL) if VICTIM else None
    """,
    "nested user namespace": """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWUSER = 0x10000000
        if libc.unshare(CLONE_NEWUSER) == 0:
            print("UNSHARED")
        else:
            print("blocked", os.strerror(ctypes.get_errno()))
        def solve():
            return 1
    """,
    "sys.exit(0)": """
        import sys
        print("all passed")
        sys.exit(0)
    """,
    "os._exit(0)": """
        import os
        print("OK 2/2 tests passed")
        os._exit(0)
    """,
    "forged result records": """
        import os, sys, json
        fd = int(sys.argv[1])
        for i in range(2):
            os.write(fd, (json.dumps({"i": i, "ok": True, "value": 42}) + "\\n").encode())
        os.write(fd, b'{"kind": "done"}\\n')
        os._exit(0)
    """,
    "forge records through /proc": """
        import os
        def solve():
            return ANSWER
        for fd in range(3, 16):
            try:
                out = os.open("/proc/%d/fd/%d" % (os.getppid(), fd), os.O_WRONLY)
                os.write(out, b'{"i": 0, "ok": true, "value": ANSWER}\\n{"i": 1, "ok": true, "value": ANSWER}\\n{"kind": "done"}\\n')
                print("WROTE", fd, flush=True)
            except OSError as err:
                print("blocked", fd, err, flush=True)
        os.kill(os.getppid(), 9)
    """,
    "kill the judge": """
        import os, signal
        os.kill(os.getppid(), signal.SIGKILL)
        def solve():
            return ANSWER
    """,
    "write the judge's memory": """
        import os
        try:
            with open("/proc/%d/mem" % os.getppid(), "r+b") as f:
                f.write(b"x")
            print("WROTE the judge's memory")
        except OSError as err:
            print("blocked", err)
    """,
    "ptrace the judge": """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        PTRACE_ATTACH = 16
        if libc.ptrace(PTRACE_ATTACH, os.getppid(), None, None) == 0:
            print("ATTACHED")
        else:
            print("blocked", os.strerror(ctypes.get_errno()))
    """,
    "refused system calls": """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        for name, number in sorted(REFUSED.items()):
            ctypes.set_errno(0)
            result = libc.syscall(number, 0, 0, 0, 0, 0)
            errno = ctypes.get_errno()
            print(("refused" if result == -1 and errno == 1 else "ALLOWED"), name, result, errno)
    """,
    "system v shared memory": """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        IPC_CREAT = 0o1000
        segment = libc.shmget(0x5eed, 4096, IPC_CREAT | 0o666)
        print("LEAKED a segment" if segment >= 0 else "blocked shmget", ctypes.get_errno())
        print(open("/proc/sysvipc/shm").read())
    """,
    "fork and allocate": """
        import os, time
        for _ in range(5):
            if os.fork() == 0:
                hog = bytearray(200 * 1024 * 1024)
                for i in range(0, len(hog), 4096):
                    hog[i] = 1
                time.sleep(30)
                os._exit(0)
        def solve():
            return ANSWER
        time.sleep(30)
    """,
    "always-equal result": """
        class Anything:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def solve():
            return Anything()
    """,
}

TESTS = """
assert add(2, 2) == 4

def test_small():
    assert add(1, 1) == 2

def check(candidate):
    assert candidate(3, 4) == 7
"""
WRONG_ADD = "def add(a, b):\n    return a - b\n"
FORGERIES = {
    "replace the harness's run_tests": """
        import sys
        for module in list(sys.modules.values()):
            for name in ("run_tests", "run_calls", "main", "verdict"):
                if hasattr(module, name):
                    setattr(module, name, lambda *args, **kwargs: None)
    """,
    "patch json.dumps to flip ok": """
        import json
        _dumps = json.dumps
        def dumps(obj, *args, **kwargs):
            if isinstance(obj, dict) and "ok" in obj:
                obj = {**obj, "ok": True}
            return _dumps(obj, *args, **kwargs)
        json.dumps = dumps
    """,
    "compile with asserts stripped": """
        import builtins
        _compile = builtins.compile
        def compile(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **kw):
            return _compile(source, filename, mode, flags, dont_inherit, 2)
        builtins.compile = compile
    """,
    "sys.exit(0) before the tests": """
        import sys
        print("3 passed")
        sys.exit(0)
    """,
    "os._exit(0) during the tests": """
        import os
        def add(a, b):
            os._exit(0)
    """,
    "SystemExit raised inside a call": """
        def add(a, b):
            raise SystemExit(0)
    """,
    "print and write fake records": """
        import json, os
        fake = "".join(json.dumps(r) + "\\n" for r in (
            {"name": "assert at line 2", "ok": True}, {"name": "test_small", "ok": True},
            {"name": "check(add)", "ok": True}, {"kind": "done"}))
        print(fake)
        for fd in range(3, 32):
            try:
                os.write(fd, fake.encode())
            except OSError:
                pass
    """,
    "kill the judge during the tests": """
        import os, signal
        def add(a, b):
            os.kill(os.getppid(), signal.SIGKILL)
            return a + b
    """,
    "always-equal result": """
        class Anything:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def add(a, b):
            return Anything()
    """,
    "define the tests' own names": """
        def check(candidate):
            pass
        def test_small():
            pass
        ENTRY_POINT = "check"
        AssertionError = None
    """,
    "patch AssertionError and assert": """
        import builtins
        builtins.AssertionError = type("AssertionError", (BaseException,), {})
        import sys
        sys.excepthook = lambda *a: None
    """,
}


SECOND_COACH = """
import json, sys, time
from pathlib import Path
from tools.runner import CodeRunner, SandboxLimits
stop, log = Path(sys.argv[1]), Path(sys.argv[2])
runner = CodeRunner(SandboxLimits(wall_seconds=8.0))
while not stop.exists():
    result = runner.run_tests("def add(a, b):\\n    return a + b\\n", "assert add(2, 3) == 5\\n")
    with log.open("a") as f:
        f.write(json.dumps([result.status, result.message]) + "\\n")
    time.sleep(0.3)
"""


@pytest.fixture(scope="module", autouse=True)
def second_coach(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Another coach process running correct jobs for the whole module: none of them may fail,
    whatever the attacks here do to their own jobs."""
    work = tmp_path_factory.mktemp("second-coach")
    stop, log = work / "stop", work / "log"
    proc = subprocess.Popen([sys.executable, "-c", SECOND_COACH, str(stop), str(log)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    yield
    while proc.poll() is None and not (log.exists() and log.read_text().strip()):
        time.sleep(0.2)  # at least one job of its own, even when the module ran a single test
    stop.touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    results = [json.loads(line) for line in log.read_text().splitlines()]
    assert results and all(status == "passed" for status, _ in results), results


@pytest.fixture(scope="module", params=[0, 2], ids=["fresh sandbox per job", "warm sandboxes"])
def runner(request: pytest.FixtureRequest) -> CodeRunner:
    r = CodeRunner(SandboxLimits(wall_seconds=2.0, cpu_seconds=1), warm_workers=request.param)
    r.sandbox.check()
    yield r
    r.close()


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return kids


def job_processes(runner: CodeRunner | None = None) -> list[int]:
    """Live (non-zombie) processes of the sandbox uids this process holds, except a warm
    sandbox's own three: bwrap, its init, and the one worker under that init (a leftover would be
    a second child); plus any process still alive when one of our uids was handed back. Other
    coach processes and test runs on the host use uids of their own and are not counted."""
    own: set[int] = set()
    for outer in runner.pool.worker_pids() if runner and runner.pool else ():
        for init in _children(outer):
            under = _children(init)
            own |= {outer, init} | (set(under) if len(under) == 1 else set())
    held = [pid for uid in _uids.held() for pid in _pids_of(uid) if pid not in own]
    return sorted(set(held + LEFT_AT_RELEASE))


FAST_ATTACKS = {"secrets via os.environ", "setsid daemon"}
"""The attacks that also run in the fast lane (`pytest -m "not slow"`); the full suite runs them all."""


@pytest.mark.parametrize("name", [n if n in FAST_ATTACKS else pytest.param(n, marks=pytest.mark.slow)
                                  for n in ATTACKS])
def test_attack_is_contained(name: str, runner: CodeRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SECRET)
    canary = tmp_path / "canary.txt"
    canary.write_text("host data")
    victim = subprocess.Popen(["sleep", "60"])
    code = textwrap.dedent(ATTACKS[name]).replace("ANSWER", str(HIDDEN_ANSWER)).replace(
        "CANARY", str(canary)).replace("VICTIM", str(victim.pid)).replace("REFUSED", repr(REFUSED))
    started = time.monotonic()
    try:
        result = runner.run_challenge(code, CHALLENGE)
        elapsed = time.monotonic() - started
        everything = result.model_dump_json()
        assert result.status != "passed", result
        assert SECRET not in everything
        assert "host data" not in everything
        assert "FOUND" not in result.stdout and "CONNECTED" not in result.stdout
        assert "WROTE" not in result.stdout and "UNSHARED" not in result.stdout
        for marker in ("ATTACHED", "ALLOWED", "LEAKED"):
            assert marker not in result.stdout, result.stdout
        assert elapsed < 12, f"the runner took {elapsed:.1f} s"
        assert victim.poll() is None, "a host process was killed"
        assert canary.read_text() == "host data"
        assert not Path("/usr/evil").exists() and not Path("/evil").exists()
        assert job_processes(runner) == [], "a process of the job outlived it"
        assert CGROUPS_LEFT == [], "a job's cgroup outlived it"
        after = runner.run_challenge(CHALLENGE.reference_solution, CHALLENGE)
        assert after.status == "passed", after.message  # still responsive
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()


def test_the_seccomp_attack_knows_this_machine() -> None:
    assert REFUSED, f"no system call table for {os.uname().machine}: the filter is off here"


FAST_FORGERIES = {"patch json.dumps to flip ok", "kill the judge during the tests"}


@pytest.mark.parametrize("name", [n if n in FAST_FORGERIES else pytest.param(n, marks=pytest.mark.slow)
                                  for n in FORGERIES])
def test_a_wrong_solution_cannot_forge_its_tests(name: str, runner: CodeRunner) -> None:
    honest = runner.run_tests(WRONG_ADD.replace("-", "+"), TESTS, "add")
    assert honest.status == "passed" and len(honest.tests) == 3, honest  # the tests can pass
    result = runner.run_tests(WRONG_ADD + textwrap.dedent(FORGERIES[name]), TESTS, "add")
    assert result.status != "passed", result
    assert not any(t.passed for t in result.tests), result.tests
    assert job_processes(runner) == [] and CGROUPS_LEFT == []


@pytest.mark.slow
@pytest.mark.parametrize("warm", [0, 1], ids=["fresh sandbox per job", "warm sandbox"])
def test_expected_statuses_for_resource_attacks(warm: int) -> None:
    # roomier clocks than the other attacks, so a busy machine cannot turn "memory" into "timeout"
    runner = CodeRunner(SandboxLimits(wall_seconds=6.0, cpu_seconds=2), warm_workers=warm)
    status = {name: runner.run_challenge(textwrap.dedent(ATTACKS[name]), CHALLENGE).status
              for name in ("memory bomb", "sleep forever", "huge output", "cpu loop ignoring signals")}
    runner.close()
    assert status == {"memory bomb": "memory", "sleep forever": "timeout", "huge output": "output_limit",
                      "cpu loop ignoring signals": "timeout"}
