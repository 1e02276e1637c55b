"""The sandbox's seccomp filter: a classic BPF program, built here in pure Python, that bubblewrap
installs (`--seccomp FD`) on every process of a job.

It refuses, with EPERM, the system calls a solution never needs and an escape or a leak between
jobs would: tracing and reading other processes (ptrace, process_vm_*, kcmp, pidfd_getfd),
mounting and namespaces (mount, umount2, pivot_root, chroot, unshare, setns, the new mount API),
kernel keys, bpf, personality, userfaultfd, perf_event_open, io_uring, kernel modules, kexec,
reboot, swap, clocks, quotas, accounting and the kernel log, file handles (open_by_handle_at),
fanotify, and System V / POSIX message-queue IPC (shmget, shmat, semget, msgget, mq_*), so no
IPC object can outlive a job. A call from another architecture's ABI (or x32 on x86_64) kills the
process. Other architectures run without a filter (`program()` returns None).
"""

from __future__ import annotations

import os
import platform
import struct

BLOCKED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "open_tree", "mount_setattr",
    "keyctl", "add_key", "request_key", "bpf", "personality", "userfaultfd", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "clock_settime", "settimeofday", "adjtimex", "clock_adjtime", "sethostname", "setdomainname",
    "quotactl", "acct", "syslog", "vhangup", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "lookup_dcookie", "shmget", "shmat", "semget", "msgget", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "iopl", "ioperm", "modify_ldt", "uselib", "_sysctl", "nfsservctl",
)

_X86_64 = {
    "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "keyctl": 250, "add_key": 248,
    "request_key": 249, "bpf": 321, "personality": 135, "process_vm_readv": 310, "process_vm_writev": 311,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "swapon": 167, "swapoff": 168, "reboot": 169, "unshare": 272, "setns": 308, "perf_event_open": 298,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "quotactl": 179,
    "acct": 163, "syslog": 103, "shmget": 29, "shmat": 30, "semget": 64, "msgget": 68, "mq_open": 240,
    "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "kcmp": 312, "lookup_dcookie": 212, "clock_settime": 227,
    "settimeofday": 164, "adjtimex": 159, "clock_adjtime": 305, "iopl": 172, "ioperm": 173, "fanotify_init": 300,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "open_tree": 428,
    "mount_setattr": 442, "pidfd_getfd": 438, "sethostname": 170, "setdomainname": 171, "vhangup": 153,
    "uselib": 134, "_sysctl": 156, "nfsservctl": 180, "modify_ldt": 154,
}
"""System call numbers from <asm/unistd_64.h>."""

_AARCH64 = {
    "ptrace": 117, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "keyctl": 219, "add_key": 217,
    "request_key": 218, "bpf": 280, "personality": 92, "process_vm_readv": 270, "process_vm_writev": 271,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "swapon": 224, "swapoff": 225, "reboot": 142, "unshare": 97, "setns": 268, "perf_event_open": 241,
    "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "quotactl": 60,
    "acct": 89, "syslog": 116, "shmget": 194, "shmat": 196, "semget": 190, "msgget": 186, "mq_open": 180,
    "mq_unlink": 181, "mq_timedsend": 182, "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185,
    "open_by_handle_at": 265, "name_to_handle_at": 264, "kcmp": 272, "lookup_dcookie": 18, "clock_settime": 112,
    "settimeofday": 170, "adjtimex": 171, "clock_adjtime": 266, "fanotify_init": 262, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "open_tree": 428, "mount_setattr": 442,
    "pidfd_getfd": 438, "sethostname": 161, "setdomainname": 162, "vhangup": 58, "nfsservctl": 42,
}
"""System call numbers from <asm-generic/unistd.h> (aarch64 has no iopl, ioperm, modify_ldt, uselib, _sysctl)."""

ARCHES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64)}
"""platform.machine() -> (AUDIT_ARCH_* value, system call table)."""

_LD_ABS_W, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_ARCH_OFFSET, _NR_OFFSET = 4, 0  # in struct seccomp_data
_KILL_PROCESS, _ERRNO, _ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_X32_BIT = 0x40000000
EPERM = 1


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter as struct sock_filter[] bytes for this machine, or None when it has no table."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, table = arch
    numbers = sorted({table[name] for name in BLOCKED if name in table})
    checks = [(_JGE_K, _X32_BIT)] if table is _X86_64 else []
    checks += [(_JEQ_K, nr) for nr in numbers]
    out = [_insn(_LD_ABS_W, _ARCH_OFFSET), _insn(_JEQ_K, audit_arch, jt=1), _insn(_RET_K, _KILL_PROCESS),
           _insn(_LD_ABS_W, _NR_OFFSET)]
    # each check jumps past the rest and past "allow" to "refuse" on a match
    out += [_insn(code, k, jt=len(checks) - j) for j, (code, k) in enumerate(checks)]
    out += [_insn(_RET_K, _ALLOW), _insn(_RET_K, _ERRNO | EPERM)]
    return b"".join(out)


_PROGRAM = program()


def filter_fd() -> int | None:
    """A readable descriptor holding the filter for bwrap's `--seccomp FD` (the caller closes it),
    or None on a machine without a table."""
    if _PROGRAM is None:
        return None
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, _PROGRAM)  # a few hundred bytes: fits in the pipe buffer
    finally:
        os.close(write_fd)
    return read_fd
