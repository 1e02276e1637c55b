"""Limits on a job's whole process tree: one cgroup per sandbox uid, with a memory and a process
cap, when this machine lets us make one; detected at run time.

- cgroup v2 (`/sys/fs/cgroup/cgroup.controllers`): `/sys/fs/cgroup/coach-sandbox/uid-N` with
  `memory.max`, `memory.swap.max` = 0 and `pids.max`; the job is killed with `cgroup.kill`.
- cgroup v1 with the memory and pids hierarchies mounted (this kind of machine): the same
  directory in each, with `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes` when swap
  accounting exists) and `pids.max`.
- otherwise (not root, a read-only or delegated-elsewhere cgroup tree, a container without the
  controllers): no cgroup. The per-process limits inside (RLIMIT_AS per process, RLIMIT_NPROC for
  the job's own uid, RLIMIT_CPU) still hold, but a job that forks can use its memory limit once
  per process. `describe()` says which applies and why.

A cgroup is named after the sandbox uid it serves: the uid is held host-wide with a lock, so the
directory is ours while the uid is, and one left behind by a crashed process is cleaned and reused
by the next holder of the uid. bubblewrap says its first process's pid on `--info-fd`; bwrap, that
process and the program it started are moved in while Python starts, before the program is sent
its job, so no code of the job runs outside (sandbox.py, `launch` and `_join`). They are not
stopped for it: on this kind of host the first write to a cgroup.procs after a quiet spell takes
10-20 ms (measured; the kernel's write side of its lock on thread groups waits for an RCU grace
period), and that wait now overlaps the sandbox's start instead of adding to it. Not done, and why:
- a job joining its cgroup itself (an exec wrapper writing its own pid, with cgroup.procs chowned to
  the job's uid) would still wait for that lock, before bwrap even starts; and on cgroup v2 a
  process may only move itself between cgroups when it can write cgroup.procs of their common
  ancestor, which an unprivileged uid cannot;
- keeping a uid's cgroup between jobs saves little: making one with its limits and removing it
  costs about 0.1 ms here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
NAME = "coach-sandbox"
EXTRA_PROCESSES = 4
"""Above the job's own allowance: bwrap, its init in the sandbox, the judge and the warm worker."""


@dataclass(frozen=True)
class Layout:
    version: int
    bases: tuple[Path, ...]
    """v2: (the subtree,); v1: (the memory subtree, the pids subtree)."""


_layout: Layout | None = None
_reason = ""
_detected = False


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def kill_if_uid(pid: int, uid: int) -> None:
    """SIGKILL `pid` only if it still runs as `uid`: the pidfd pins the process, so a pid that
    died and was reused by someone else's process in the meantime is left alone."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if os.stat(f"/proc/{pid}").st_uid == uid:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def detect() -> Layout | None:
    """The cgroup layout jobs can use on this machine, or None (then `describe()` says why)."""
    global _layout, _reason, _detected
    if _detected:
        return _layout
    _detected = True
    try:
        _layout = _detect()
    except OSError as err:
        _layout, _reason = None, f"cgroups are not writable here ({err.strerror or err})"
    return _layout


def disable(reason: str) -> None:
    """Stop using cgroups in this process (the sandbox could not start inside one)."""
    global _layout, _reason, _detected
    _layout, _reason, _detected = None, reason, True


def _detect() -> Layout | None:
    global _reason
    if os.geteuid() != 0:
        _reason = "not running as root, so no cgroup of our own"
        return None
    if (ROOT / "cgroup.controllers").exists():
        if not {"memory", "pids"} <= set((ROOT / "cgroup.controllers").read_text().split()):
            _reason = "the cgroup v2 tree has no memory or pids controller"
            return None
        enabled = set((ROOT / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= enabled:
            _write(ROOT / "cgroup.subtree_control", "+memory +pids")
        base = ROOT / NAME
        base.mkdir(mode=0o755, exist_ok=True)
        _write(base / "cgroup.subtree_control", "+memory +pids")
        return Layout(2, (base,))
    memory, pids = ROOT / "memory", ROOT / "pids"
    if (memory / "memory.limit_in_bytes").exists() and (pids / "cgroup.procs").exists():
        bases = (memory / NAME, pids / NAME)
        for base in bases:
            base.mkdir(mode=0o755, exist_ok=True)
        return Layout(1, bases)
    _reason = "no cgroup v2 tree and no cgroup v1 memory and pids hierarchies"
    return None


def describe() -> str:
    layout = detect()
    if layout is None:
        return f"no cgroup: {_reason}; per-process limits only"
    return f"cgroup v{layout.version} per job under {', '.join(str(b) for b in layout.bases)}"


class JobCgroup:
    """The cgroup of one sandbox uid: create it with limits, let the sandbox join, then kill
    what is left in it and remove it."""

    def __init__(self, layout: Layout, uid: int, memory_bytes: int, processes: int) -> None:
        self.layout = layout
        self.uid = uid
        self.dirs = tuple(base / f"uid-{uid}" for base in layout.bases)
        for directory in self.dirs:
            if directory.exists():
                self._empty(directory)  # a leftover of a process that died holding this uid
            else:
                directory.mkdir(mode=0o755)
        if layout.version == 2:
            (directory,) = self.dirs
            _write(directory / "memory.max", str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(directory / "memory.swap.max", "0")
            _write(directory / "pids.max", str(processes + EXTRA_PROCESSES))
        else:
            memory, pids = self.dirs
            _write(memory / "memory.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(pids / "pids.max", str(processes + EXTRA_PROCESSES))
        self._oom_at_start = self.oom_kills()

    def join(self, pids: list[int]) -> None:
        """Move these processes (bwrap and the sandbox's first process, before it forks) in."""
        for directory in self.dirs:
            for pid in pids:
                _write(directory / "cgroup.procs", str(pid))

    def oom_kills(self) -> int:
        """How many processes the memory limit has killed in this cgroup so far."""
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        try:
            for line in (self.dirs[0] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def out_of_memory(self) -> bool:
        return self.oom_kills() > self._oom_at_start

    def pids(self) -> set[int]:
        found: set[int] = set()
        for directory in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
        return found

    def kill(self, patience: float = 3.0) -> None:
        """Kill every process in the cgroup (they can only be the job's) and wait until it is empty."""
        if self.layout.version == 2:
            with contextlib.suppress(OSError):
                _write(self.dirs[0] / "cgroup.kill", "1")
        deadline = time.monotonic() + patience
        pause = 0.0005  # a process of the job is usually just finishing its exit: look again soon
        while (alive := self.pids()) and time.monotonic() < deadline:
            for pid in alive:
                kill_if_uid(pid, self.uid)  # every process of the job runs as its uid
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def remove(self) -> bool:
        """Kill what is left and remove the directories (kept if something would not die: the
        next holder of the uid cleans it). True when every directory was removed here: the
        kernel removes a cgroup only when no live process is in it, so then nothing of the job
        runs any more (a process cannot leave its cgroup: every other cgroup.procs is root's)."""
        self.kill()
        removed = True
        for directory in self.dirs:
            for _ in range(100):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    removed = False
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                removed = False
        return removed

    def _empty(self, directory: Path) -> None:
        for _ in range(300):
            try:
                pids = [int(p) for p in (directory / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                return
            if not pids:
                return
            for pid in pids:
                kill_if_uid(pid, self.uid)
            time.sleep(0.01)


def job_cgroup(uid: int | None, memory_bytes: int, processes: int) -> JobCgroup | None:
    """A fresh cgroup for the job running as `uid`, or None when this machine gives none (then
    per-process limits apply, as documented); CgroupFailed when it does but this one failed."""
    layout = detect()
    if layout is None or uid is None:
        return None
    try:
        return JobCgroup(layout, uid, memory_bytes, processes)
    except OSError:  # a leftover of the uid's last job that had not died yet: one more go
        time.sleep(0.05)
    try:
        return JobCgroup(layout, uid, memory_bytes, processes)
    except OSError as err:
        # Fail closed: a job must never run with weaker limits than the machine allows because
        # an earlier job (maybe a hostile one) left its cgroup in a state we could not reset.
        raise CgroupFailed(f"could not set up the job's cgroup ({err.strerror or err})") from None


class CgroupFailed(Exception):
    """This job's cgroup could not be made although cgroups work here: the job must not run."""
