"""Who holds a budget reservation: this process, named so that its death can be seen later.

An owner is "host/boot/pid/start": the host name, the kernel's boot id, the process id and the
process's start time in clock ticks since boot (Linux `/proc`). A pid alone is not enough: pids are
reused, and a reservation must not look alive because an unrelated process got its pid. Elsewhere
(no `/proc`) boot and start are a random nonce per process, and only "is the pid still there" can
be checked; expiry covers the rest, as it does for owners on other hosts.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache
from pathlib import Path

_NONCE = uuid.uuid4().hex[:12]


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
    except OSError:
        return _NONCE


def _start_ticks(pid: int) -> str | None:
    """The process's start time from /proc/PID/stat, None when no such process is running (a
    zombie, killed but not yet reaped by its parent, no longer runs either)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing ")"
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


@cache
def _owner_of(pid: int) -> str:
    return f"{socket.gethostname()[:120]}/{_boot_id()}/{pid}/{_start_ticks(pid) or _NONCE}"


def current_owner() -> str:
    """This process as a reservation owner (looked up again after a fork: the pid differs)."""
    return _owner_of(os.getpid())


def is_dead(owner: str) -> bool:
    """True only when `owner` surely no longer runs: same host and boot, and its pid is gone or now
    belongs to a process started at another time. Owners on other hosts are never judged dead."""
    try:
        host, boot, pid_text, start = owner.rsplit("/", 3)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname()[:120]:
        return False
    if boot != _boot_id():
        return True  # this host rebooted since: every process of the old boot is gone
    if Path("/proc/self/stat").exists():
        return _start_ticks(pid) != start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
