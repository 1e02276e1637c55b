"""Warm sandboxes: a few long-lived bubblewrap sandboxes, each with Python and the harness already
loaded, that run one job at a time in a fresh forked child (tools/runner/zygote.py).

Every job still gets its own process, limits, empty /tmp and the same judge; what is saved is
starting bwrap and Python. Between jobs the worker kills everything the job left and wipes /tmp;
a worker that times out, overflows its output, fails to clean up or dies is thrown away and a
fresh one is started, and every worker is recycled after `recycle_after` jobs.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import socket
import subprocess
import threading
import time

from tools.runner.sandbox import (
    RawRun,
    Sandbox,
    SandboxUnavailable,
    _kill_group,
    collect,
    release_uid,
    take_uid,
)

START_TIMEOUT = 10.0
DONE_TIMEOUT = 3.0
WORKER_MIB = 32
"""The warm worker's own memory, added to its cgroup's limit (one job at a time runs in it)."""


class _WorkerGone(Exception):
    """The worker died while idle: the job never reached it and can go to a fresh one."""


class _Worker:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.jobs = 0
        self.uid = take_uid()
        try:
            self.cgroup = sandbox.cgroup(self.uid, headroom_mib=WORKER_MIB)
        except BaseException:
            release_uid(self.uid)
            raise
        self.control, inside = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = sandbox.launch("zygote.py", self.uid, inside.fileno(), subprocess.DEVNULL, self.cgroup)
        except SandboxUnavailable:
            self._release()
            raise
        finally:
            inside.close()
        if self._line(START_TIMEOUT) != b"ready":
            self.close()
            raise SandboxUnavailable("a warm sandbox did not start; run with warm workers off (COACH_RUNNER_WARM=0)")

    def _line(self, timeout: float) -> bytes:
        self.control.settimeout(timeout)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = self.control.recv(64)
                if not chunk:
                    return b""
                data += chunk
        except OSError:
            return b""
        return data.strip()

    def run(self, payload: bytes) -> tuple[RawRun, bool]:
        """Run one job; the flag says whether this worker may run another."""
        pipes = [os.pipe() for _ in range(4)]  # stdin, stdout, stderr, results
        inside = [pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1]]
        started = time.perf_counter()
        try:
            socket.send_fds(self.control, [b"run"], inside)
        except OSError:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            raise _WorkerGone from None
        for fd in inside:
            os.close(fd)
        stopped: list[bool] = []

        oom: list[bool] = []

        def stop() -> None:
            stopped.append(True)
            oom.append(self.cgroup is not None and self.cgroup.out_of_memory())
            self.close()

        with open(pipes[0][1], "wb", buffering=0) as stdin, open(pipes[1][0], "rb", buffering=0) as stdout, \
                open(pipes[2][0], "rb", buffering=0) as stderr:
            raw = collect(self.sandbox.limits, stdin, stdout, stderr, pipes[3][0], payload,
                          stop=stop)
        os.close(pipes[3][0])
        self.jobs += 1
        healthy = not stopped
        if any(oom) or (self.cgroup is not None and self.cgroup.out_of_memory()):
            raw.out_of_memory, healthy = True, False  # the limit may have hit the worker too: start afresh
        if healthy:
            done = self._line(DONE_TIMEOUT)
            if done.startswith(b"done "):
                raw.returncode = int(done.split()[1])
            else:
                healthy = False
        raw.duration_ms = (time.perf_counter() - started) * 1000
        return raw, healthy

    def close(self) -> None:
        _kill_group(self.proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._release()

    def _release(self) -> None:
        self.control.close()
        release_uid(self.uid, self.cgroup)
        self.uid, self.cgroup = None, None


class WarmPool:
    """Up to `size` warm sandboxes shared by concurrent callers; started on first use."""

    def __init__(self, sandbox: Sandbox, size: int = 2, recycle_after: int = 200) -> None:
        self.sandbox = sandbox
        self.recycle_after = recycle_after
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._slots = threading.Semaphore(size)
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        atexit.register(self.close)  # the workers die with us anyway; this also removes their cgroups

    def run(self, job: dict) -> RawRun:
        payload = self.sandbox.payload(job, other_processes=1)  # the worker itself
        with self._slots:
            for attempt in range(2):  # an idle worker may have died: then once more on a fresh one
                worker = self._take(fresh=attempt > 0)
                try:
                    raw, healthy = worker.run(payload)
                    break
                except _WorkerGone:
                    self._discard(worker)
                    if attempt:
                        raise SandboxUnavailable("a fresh warm sandbox died before it took the job; "
                                                 "run with COACH_RUNNER_WARM=0") from None
                except BaseException:
                    self._discard(worker)
                    raise
            if healthy and worker.jobs < self.recycle_after:
                self._idle.put(worker)
            else:
                self._discard(worker)
            return raw

    def worker_pids(self) -> set[int]:
        """Host pids of the live workers' bwrap processes (for tests and diagnostics)."""
        with self._lock:
            return {w.proc.pid for w in self._workers if w.proc.poll() is None}

    def _take(self, fresh: bool = False) -> _Worker:
        try:
            if not fresh:
                return self._idle.get_nowait()
        except queue.Empty:
            pass
        worker = _Worker(self.sandbox)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.close()
        with self._lock:
            self._workers.discard(worker)

    def close(self) -> None:
        while True:
            try:
                self._discard(self._idle.get_nowait())
            except queue.Empty:
                return
