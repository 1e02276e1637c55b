"""Launch one job in a bubblewrap sandbox and collect what comes out, within hard limits.

Inside: every namespace unshared (no network, a fresh IPC namespace, its own pids), a read-only
view of /usr only, a size-capped tmpfs as the work dir, a tiny /dev/shm, no environment, no
capabilities, no nested user namespaces, a seccomp filter (tools/runner/seccomp.py), and the
harness sets CPU, memory, process, file-size and open-file limits on itself.
Outside: bwrap starts with an empty environment, as an unprivileged uid of its own when we are
root (RLIMIT_NPROC means nothing for root), in its own session, inside a cgroup of its own with a
memory and a process cap for the whole job when the machine allows one (tools/runner/cgroup.py);
a wall clock and output caps are enforced here. When the job ends its cgroup, its process group
and its uid are emptied: each can only hold processes of this job, because the uid is held
host-wide with a lock for the job's whole life. `--die-with-parent` and the pid namespace take
every process of the job down with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.runner import seccomp
from tools.runner.cgroup import CgroupFailed, JobCgroup, job_cgroup, kill_if_uid
from tools.runner.cgroup import disable as disable_cgroups
from tools.runner.limits import SandboxLimits

HARNESS = Path(__file__).with_name("harness.py")
ZYGOTE = Path(__file__).with_name("zygote.py")
SANDBOX_DIR = "/opt/coach"
RESULT_CAP = 4 * 1024 * 1024
START_SECONDS = 10.0
"""Time for bwrap and Python to start, on top of the job's wall clock (a busy host is slow to start
a sandbox; no candidate code runs before the harness says it started)."""
SANDBOX_UIDS = range(61000, 61032)
"""Unprivileged uids for jobs launched by root: one per concurrent job, so one job's fork bomb
cannot use up another job's process allowance."""


class SandboxUnavailable(Exception):
    """bubblewrap or user namespaces are missing; the message says what to install or enable."""


@dataclass
class RawRun:
    stdout: bytes = b""
    stderr: bytes = b""
    records: list[dict] = field(default_factory=list)
    garbled: str = ""
    returncode: int | None = None
    out_of_memory: bool = False
    """The job's cgroup memory limit killed one of its processes."""
    timed_out: bool = False
    output_exceeded: bool = False
    duration_ms: float = 0.0


def _readable_harness() -> Path:
    """A directory with the harness and the warm worker that the job's uid can read. Not root:
    the package itself (the job runs as us). Root (the package may live under /root): one
    root-owned, world-readable copy per version of the two files, shared by every coach process
    on the host and never left behind as a new temporary directory per process."""
    if os.geteuid() != 0:
        return HARNESS.parent
    sources = {source.name: source.read_bytes() for source in (HARNESS, ZYGOTE)}
    digest = hashlib.sha256(b"".join(sources.values())).hexdigest()[:16]
    parent = Path("/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()) / "coach-sandbox"
    parent.mkdir(mode=0o755, exist_ok=True)
    if parent.is_symlink() or parent.stat().st_uid != 0 or parent.stat().st_mode & 0o022:
        raise SandboxUnavailable(f"{parent} is not a root-owned directory only root can write; remove it")
    final = parent / f"bundle-{digest}"
    if all((final / name).is_file() and (final / name).read_bytes() == data for name, data in sources.items()):
        return final
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
    try:
        for name, data in sources.items():
            (staging / name).write_bytes(data)
            (staging / name).chmod(0o444)
        staging.chmod(0o755)
        with contextlib.suppress(OSError):  # another process won the race: its copy is the same
            staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _find_python() -> str:
    """A system interpreter an unprivileged uid can read (the venv's may live under /root)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise SandboxUnavailable("no system python3 in /usr/bin or /usr/local/bin for the sandbox; "
                             "install python3 (apt-get install -y python3)")


class _UidPool:
    """The sandbox uids are shared by every coach process on the host (a bot, the CLI, a test
    run): a uid is ours while we hold an exclusive lock on its lock file, so two processes never
    run jobs as the same uid, and releasing one never kills the other's job."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}  # uid -> the descriptor that holds its lock
        self._lock = threading.Lock()

    def take(self) -> int:
        deadline = time.monotonic() + 30
        while True:
            with self._lock:
                for uid in SANDBOX_UIDS:
                    if uid not in self._held and (fd := _lock_uid(uid)) is not None:
                        self._held[uid] = fd
                        return uid
            if time.monotonic() > deadline:
                raise SandboxUnavailable("every sandbox uid is busy; try again when fewer jobs run")
            time.sleep(0.05)

    def give(self, uid: int) -> None:
        with self._lock:
            fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)  # drops the lock

    def held(self) -> list[int]:
        """The uids this process holds now (for tests and diagnostics)."""
        with self._lock:
            return sorted(self._held)


def _lock_uid(uid: int) -> int | None:
    """A descriptor holding the host-wide lock on `uid`, or None when another process holds it."""
    directory = Path("/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()) / "coach-sandbox-uids"
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.is_symlink() or directory.stat().st_uid != os.geteuid():
        raise SandboxUnavailable(f"{directory} is not ours; remove it")
    fd = os.open(directory / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


_uids = _UidPool()


def take_uid() -> int | None:
    """A sandbox uid of its own for a job (or warm sandbox) when we are root, else None."""
    return _uids.take() if os.geteuid() == 0 else None


def release_uid(uid: int | None, cgroup: JobCgroup | None = None) -> None:
    """Kill anything left in the job's cgroup and anything still running as `uid` (while we hold
    the uid's lock, every such process is this job's), remove the cgroup, then hand the uid back.
    A cgroup the kernel let us remove held the whole job and no live process any more (every
    process of the job was born in it or moved in before it ran anything, see `launch`), so the
    look through /proc for the uid's processes is needed only without one."""
    emptied = cgroup is not None and cgroup.remove()
    if uid is not None:
        if not emptied:
            _kill_uid(uid)
        _uids.give(uid)


class Sandbox:
    def __init__(self, limits: SandboxLimits, bwrap: str | None = None, unsafe: bool = False) -> None:
        self.limits = limits
        self.unsafe = unsafe
        self.bwrap = bwrap if bwrap is not None else (shutil.which("bwrap") or "bwrap")
        self.python = _find_python()
        self.bundle = _readable_harness()
        self.cgroups = not unsafe
        self._checked = False

    # --- availability -------------------------------------------------------------------------

    def check(self) -> None:
        """Fail closed: raise SandboxUnavailable unless a trivial sandboxed job really runs."""
        if self.unsafe or self._checked:
            return
        if not (os.path.isabs(self.bwrap) and os.access(self.bwrap, os.X_OK)) and not shutil.which(self.bwrap):
            raise SandboxUnavailable(
                "bubblewrap is not installed, so untrusted code cannot run safely. Install it "
                "(apt-get install -y bubblewrap), or set COACH_UNSAFE_RUNNER=1 on a developer machine "
                "to run code without a sandbox.")
        ok, probe = self._probe()
        if not ok and self.cgroups:  # try once without a cgroup
            self.cgroups = False
            ok, probe = self._probe()
            if ok:  # the cgroup was the trouble: stop making them in this process
                disable_cgroups("the sandbox did not start inside a job cgroup")
            else:  # bwrap itself is broken (a bad path, no user namespaces): cgroups are not to blame
                self.cgroups = True
        if not ok:
            detail = probe.stderr.decode(errors="replace").strip()[:300]
            raise SandboxUnavailable(
                f"bubblewrap could not start a sandbox ({detail or 'no output'}). User namespaces may "
                "be disabled: enable them (sysctl kernel.unprivileged_userns_clone=1), or set "
                "COACH_UNSAFE_RUNNER=1 on a developer machine.")
        self._checked = True

    def _probe(self) -> tuple[bool, RawRun]:
        probe = self.run({"mode": "calls", "code": "def f():\n    return 1\n", "entry_point": "f",
                          "cases": [{"args": []}]})
        return [r.get("value") for r in probe.records if "kind" not in r] == [1], probe

    # --- running ------------------------------------------------------------------------------

    def _argv(self, result_fd: int, program: str = "harness.py", filter_fd: int | None = None) -> list[str]:
        """bwrap's command line for running `program` (harness.py or zygote.py) with the fd and
        the seccomp filter's fd."""
        lim = self.limits
        if self.unsafe:
            return [self.python, "-I", "-S", str(self.bundle / program), str(result_fd)]
        argv = [
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--clearenv", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr",
        ]
        for link in ("bin", "lib", "lib64", "sbin"):
            target = Path("/") / link
            if target.is_symlink():
                argv += ["--symlink", os.readlink(target), f"/{link}"]
            elif target.is_dir():
                argv += ["--ro-bind", str(target), f"/{link}"]
        argv += [
            "--ro-bind", str(self.bundle), SANDBOX_DIR,
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(lim.tmpfs_mib * 1024 * 1024), "--tmpfs", "/tmp",
            "--size", str(lim.shm_mib * 1024 * 1024), "--tmpfs", "/dev/shm",
            "--chdir", "/tmp",
            "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "LANG", "C.UTF-8",
            "--remount-ro", "/",
            *(["--seccomp", str(filter_fd)] if filter_fd is not None else []),
            self.python, "-I", "-S", f"{SANDBOX_DIR}/{program}", str(result_fd),
        ]
        return argv

    def payload(self, job: dict, other_processes: int) -> bytes:
        """The job as the harness reads it, with the limits it sets on itself (its process
        allowance counts the `other_processes` already running as the same uid)."""
        lim = self.limits
        return json.dumps({**job, "limits": {**lim.model_dump(), "nproc": other_processes + lim.processes}}).encode()

    def cgroup(self, uid: int | None, headroom_mib: int = 0) -> JobCgroup | None:
        """A cgroup with the job's memory and process caps for its whole tree, when we can have one."""
        if not self.cgroups:
            return None
        try:
            return job_cgroup(uid, (self.limits.memory_mib + headroom_mib) * 1024 * 1024, self.limits.processes)
        except CgroupFailed as err:
            raise SandboxUnavailable(f"{err}; the code was not run: send it again") from None

    def launch(self, program: str, uid: int | None, fd: int, streams: int,
               cgroup: JobCgroup | None = None) -> subprocess.Popen:
        """Start bwrap running `program` with `fd` passed in, as the job's own uid when we are
        root (set in the child before exec, no Python preexec hook), in its own session, with an
        empty environment, inside `cgroup` before `program` reads anything; `streams` is
        subprocess.PIPE or DEVNULL for stdin, stdout and stderr.

        The sandbox is not held up while it joins its cgroup (on this kind of host the first move
        of a process into a cgroup waits several ms for the kernel): bwrap says its first
        process's pid on --info-fd and carries on setting up the sandbox and starting Python while
        bwrap, that process and what it has started so far (the program, `_join`) are moved in.
        Until launch returns nothing of the job runs: the program (harness.py, zygote.py) reads
        its job from stdin or its control socket before it does anything, and its caller sends
        that only after launch returned, so every process of the job is forked inside."""
        as_job: dict[str, Any] = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
        filter_fd = None if self.unsafe else seccomp.filter_fd()
        argv = self._argv(fd, program, filter_fd)
        passed = [fd] + ([filter_fd] if filter_fd is not None else [])
        info = (-1, -1)
        if cgroup is not None:
            info = os.pipe()
            argv = [argv[0], "--info-fd", str(info[1]), *argv[1:]]
            passed += [info[1]]
        try:
            proc = subprocess.Popen(
                argv, stdin=streams, stdout=streams, stderr=streams, pass_fds=passed, env={}, cwd="/",
                start_new_session=True, **as_job,
            )
        except OSError as err:
            if info[0] >= 0:
                os.close(info[0])
            raise SandboxUnavailable(f"could not start the sandbox: {err.strerror}") from None
        finally:
            for end in passed[1:]:
                os.close(end)
        if cgroup is not None:
            try:
                with contextlib.suppress(ProcessLookupError):  # then it made no sandbox, or one that dies with it
                    cgroup.join([proc.pid])  # at once: the kernel's wait for a first move overlaps bwrap's start
                first = _child_pid(info[0])
                if first is not None:
                    _join(cgroup, first)
                elif not _ends(proc):  # no pid, yet running: its first process may be outside
                    raise OSError(f"bwrap did not say its first process's pid within {START_SECONDS:.0f} s")
            except OSError as err:
                _kill_group(proc)
                proc.wait()
                raise SandboxUnavailable(f"could not put the sandbox in its cgroup ({err.strerror or err})") from None
            finally:
                os.close(info[0])
        return proc

    def run(self, job: dict) -> RawRun:
        """Run one job; the job dict is what the harness reads (limits are added here)."""
        uid = take_uid()
        payload = self.payload(job, 0 if uid is not None else _own_processes())
        started = time.perf_counter()
        try:
            cgroup = self.cgroup(uid)
        except BaseException:
            release_uid(uid)
            raise
        read_fd, write_fd = os.pipe()
        try:
            proc = self.launch("harness.py", uid, write_fd, subprocess.PIPE, cgroup)
        except SandboxUnavailable:
            os.close(read_fd)
            release_uid(uid, cgroup)
            raise
        finally:
            os.close(write_fd)
        out_of_memory = False
        try:
            raw = collect(self.limits, proc.stdin, proc.stdout, proc.stderr, read_fd, payload,
                          stop=lambda: _kill_group(proc))
            try:
                raw.returncode = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raw.returncode = None
        finally:
            _kill_group(proc)
            os.close(read_fd)
            out_of_memory = cgroup is not None and cgroup.out_of_memory()
            release_uid(uid, cgroup)
        raw.out_of_memory = out_of_memory
        raw.duration_ms = (time.perf_counter() - started) * 1000
        return raw


def _child_pid(info_fd: int, timeout: float = START_SECONDS) -> int | None:
    """The host pid of the sandbox's first process, from bwrap's --info-fd JSON (None if bwrap
    stopped before making it)."""
    data = b""
    deadline = time.monotonic() + timeout
    while b"}" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not _readable(info_fd, remaining):
            return None
        chunk = os.read(info_fd, 4096)
        if not chunk:
            return None
        data += chunk
    pid = json.loads(data).get("child-pid")
    return pid if isinstance(pid, int) else None


def _join(cgroup: JobCgroup, first: int) -> None:
    """Move the sandbox's first process and the program it started into `cgroup` (bwrap is in).

    Complete without stopping the sandbox: a process forked after its parent moved is born
    inside. bwrap made its first process before it said its pid (possibly before bwrap itself
    moved) and forks nothing else; the first process forks only the program, which forks nothing
    before it reads its job. So moving the first process, then the children it had at that
    moment leaves no process of the job outside. A listed child is moved only while it runs as
    the job's uid: a pid that ended and was reused by someone else's process stays where it is."""
    cgroup.join([first])
    cgroup.join([pid for pid in _children(first) if _runs_as(pid, cgroup.uid)])


def _children(pid: int) -> list[int]:
    """The live children of `pid` (none once it has ended: the pid namespace's init takes its
    children down with it); by /proc/PID/task/PID/children, or by every process's parent when
    the kernel lacks that file."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            return []
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"{entry.path}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _ends(proc: subprocess.Popen) -> bool:
    """bwrap stopped before making the sandbox (it closed --info-fd without a pid): it exits."""
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return False
    return True


def _runs_as(pid: int, uid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == uid
    except OSError:
        return False


def _readable(fd: int, timeout: float) -> bool:
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        return bool(sel.select(timeout))


def collect(lim: SandboxLimits, stdin, stdout, stderr, result_fd: int, payload: bytes, stop) -> RawRun:
    """Feed the job to `stdin`, then read stdout, stderr and the result channel until all three
    close, the wall clock (started by the harness's first record) runs out or an output cap is
    passed; `stop()` then ends the job."""
    raw = RawRun()
    try:
        stdin.write(payload)
        stdin.close()
    except BrokenPipeError:
        pass
    buffers = {stdout.fileno(): bytearray(), stderr.fileno(): bytearray(), result_fd: bytearray()}
    caps = {stdout.fileno(): lim.output_bytes, stderr.fileno(): lim.output_bytes, result_fd: RESULT_CAP}
    sel = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + START_SECONDS + lim.wall_seconds
    started = False  # the harness's first record says the job itself began: its wall clock starts then
    open_fds = set(buffers)
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raw.timed_out = True
            break
        for key, _ in sel.select(timeout=min(remaining, 0.5)):
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(key.fd)
                open_fds.discard(key.fd)
                continue
            buffers[key.fd] += chunk
            if key.fd == result_fd and not started:
                started = True
                deadline = time.monotonic() + lim.wall_seconds
            if len(buffers[key.fd]) > caps[key.fd]:
                if key.fd == result_fd:
                    raw.garbled = "the result channel overflowed"
                else:
                    raw.output_exceeded = True
                open_fds.clear()
                break
    sel.close()
    if open_fds or raw.timed_out or raw.output_exceeded or raw.garbled:
        stop()
    raw.stdout = bytes(buffers[stdout.fileno()][: lim.output_bytes])
    raw.stderr = bytes(buffers[stderr.fileno()][: lim.output_bytes])
    stdout.close()
    stderr.close()
    raw.records, problem = _parse_records(bytes(buffers[result_fd]))
    raw.garbled = raw.garbled or problem
    return raw


def _parse_records(data: bytes) -> tuple[list[dict], str]:
    records: list[dict] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return records, "a result record was not valid JSON"
        if not isinstance(record, dict):
            return records, "a result record was not an object"
        records.append(record)
    return records, ""


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the job's process group, only while its leader is not reaped: a reaped leader's pid,
    with no process left in its group, may already be another job's group."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _kill_uid(uid: int, patience: float = 3.0) -> None:
    """Anything still running as the job's uid is a leftover: kill it and wait until it is gone,
    so the uid is clean before the next job gets it."""
    deadline = time.monotonic() + patience
    pause = 0.0005  # a process of the job is usually just finishing its exit: look again soon
    while True:
        alive = list(_pids_of(uid))
        if not alive or time.monotonic() > deadline:
            return
        for pid in alive:
            kill_if_uid(pid, uid)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _pids_of(uid: int) -> list[int]:
    """Live processes of `uid` (zombies are already dead: they only wait to be reaped)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid and not _zombie(entry.path):
                pids.append(int(entry.name))
        except FileNotFoundError:
            continue
    return pids


def _zombie(proc_dir: str) -> bool:
    try:
        with open(f"{proc_dir}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def _own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += 1
        except FileNotFoundError:
            continue
    return count
