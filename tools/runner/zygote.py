"""A warm worker that runs INSIDE the sandbox: Python and the harness are loaded once, and each
job runs in a fresh forked child. System Python and the standard library only.

    python3 -I -S zygote.py CONTROL_FD

The host sends "run" over the control socket with four descriptors (the job's stdin, stdout,
stderr and result channel). The worker forks; the child puts them on fds 0-3, drops everything
else and runs the harness exactly as a fresh process would (it reads the job from stdin, so the
worker itself never holds a job's code or data). When the child exits the worker kills every
other process in the sandbox, empties /tmp and /dev/shm, removes any System V IPC object (the
seccomp filter already refuses to make one; this is the second line), and answers "done STATUS". Anything it
cannot clean makes it exit, and the host starts a fresh sandbox. The worker is not dumpable, so a
job running as the same uid cannot read its memory or descriptors through /proc or ptrace.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

PR_SET_DUMPABLE = 4
SWEEP_PATIENCE = 1.0


def others():
    """Live processes in this sandbox other than its init (pid 1) and this worker."""
    me = os.getpid()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    pids.append(int(name))
        except (OSError, IndexError):
            continue
    return pids


def sweep():
    """Kill whatever the job left behind; False if something would not die."""
    deadline = time.monotonic() + SWEEP_PATIENCE
    while others():
        if time.monotonic() > deadline:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # every process we may signal except ourselves and init
        reap()
        time.sleep(0.001)
    return True


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wipe(directory):
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


IPC_RMID = 0
SYSV = (("shm", "shmctl"), ("sem", "semctl"), ("msg", "msgctl"))


def remove_sysv_ipc():
    """Remove every System V IPC object in this sandbox's IPC namespace (all are the last job's);
    False if one is left."""
    libc = None
    for kind, ctl in SYSV:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            libc = libc or ctypes.CDLL(None)
            ipc_id = int(row.split()[1])
            if ctl == "semctl":
                libc.semctl(ipc_id, 0, IPC_RMID)
            else:
                getattr(libc, ctl)(ipc_id, IPC_RMID, None)
    for kind, _ in SYSV:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                if len(f.read().splitlines()) > 1:
                    return False
        except OSError:
            continue
    return True


def child(fds):
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(len(fds), 1 << 16)
    sys.argv = ["harness.py", str(len(fds) - 1)]
    try:
        harness.main()
        sys.stdout.flush()
        sys.stderr.flush()
    except SystemExit as stop:
        code = stop.code
        os._exit(code if isinstance(code, int) else (0 if code is None else 1))
    except BaseException:
        os._exit(1)
    os._exit(0)


def main():
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    control = socket.socket(fileno=int(sys.argv[1]))
    control.sendall(b"ready\n")
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 16, 4)
        except OSError:
            return
        if message != b"run" or len(fds) != 4:
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            child(fds)
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        clean = sweep()
        try:
            wipe("/tmp")
            wipe("/dev/shm")
            clean = remove_sysv_ipc() and clean
        except (OSError, ValueError, IndexError):
            clean = False
        control.sendall(b"done %d\n" % os.waitstatus_to_exitcode(status))
        if not clean:
            return


if __name__ == "__main__":
    main()
