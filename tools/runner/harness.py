"""Runs INSIDE the sandbox with the system Python and the standard library only.

    python3 -I -S harness.py RESULT_FD < job.json

Two processes, so that no verdict can be reached by the candidate's code:

- the judge process (this one) reads the job from stdin, sets resource limits, makes itself
  non-dumpable (so no other process of the uid can open its descriptors through /proc or trace
  it), then forks the candidate process. It alone holds the result descriptor; it runs the cases
  or the test file and writes one JSON line per test to it.
- the candidate process closes the result descriptor before it loads the candidate's code, then
  serves requests over a pair of pipes: call a name, call or read an attribute of an object it
  holds, turn an object into a list, a length or a string. Arguments and results cross as plain
  values (None, bool, int, float, complex, str, bytes, and lists, tuples, dicts, sets of them);
  anything else stays in the candidate process and crosses as a handle.

Why: in `tests` mode the old harness ran the test file in the candidate's interpreter, so the
candidate could replace the harness's functions, patch `json` or `compile`, or exit early. Here
the test file is compiled and run in a process the candidate's code never ran in; patching its
own `json`, `builtins` or this module changes nothing over there; exiting, printing, writing fake
records (it has no descriptor to write them to) or killing the judge only loses records, and a
missing record or a missing final `done` is a failure outside. A result is rebuilt from plain
values, so an object whose `__eq__` always answers True cannot pass an `==` check: handles compare
by identity. The candidate can still only return values, which is what it is judged on.

Limits of the proxy: a test may pass only plain values (or objects the candidate returned) to the
candidate's functions; a test that needs the candidate's classes by identity (`isinstance`,
catching an exception class the candidate defined) sees a stand-in: an exception raised by the
candidate arrives as the built-in class of that name, or a fresh Exception subclass with its name.
Module-level plain values of the candidate are copied when it has loaded; a module it imported is
imported here by name when it is part of the standard library.

Hidden expected values never enter the sandbox: for challenges the harness reports what the code
produced and the judge outside compares.
"""

import ast
import builtins
import contextlib
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

MiB = 1024 * 1024
PR_SET_DUMPABLE = 4


def set_limits(limits):
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mib"] * MiB,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_mib"] * MiB,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"],) * 2)


def not_dumpable():
    """No process of the same uid may open our descriptors through /proc, read our memory or
    trace us (the kernel checks dumpability for all three)."""
    import ctypes

    if ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE) failed")


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


# --- plain values across the pipe ---------------------------------------------------------------

def to_wire(value, handle):
    """A JSON-able form of `value`: plain data tagged by type; anything else becomes
    handle(value) (candidate side: a new handle; judge side: a handle it got, or TypeError)."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return {"$x": float(value).hex()}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [to_wire(v, handle) for v in list(value)]
    if isinstance(value, tuple):
        return {"$t": [to_wire(v, handle) for v in tuple(value)]}
    if isinstance(value, dict):
        return {"$d": [[to_wire(k, handle), to_wire(v, handle)] for k, v in list(dict(value).items())]}
    if isinstance(value, (set, frozenset)):
        return {"$f" if isinstance(value, frozenset) else "$s": [to_wire(v, handle) for v in list(value)]}
    if isinstance(value, (bytes, bytearray)):
        return {"$b": bytes(value).hex()}
    if isinstance(value, complex):
        return {"$c": [complex(value).real.hex(), complex(value).imag.hex()]}
    return handle(value)


def from_wire(data, remote):
    """Plain values back from their JSON form; remote(handle_id, text) builds a handle."""
    if isinstance(data, list):
        return [from_wire(v, remote) for v in data]
    if not isinstance(data, dict):
        if data is None or isinstance(data, (bool, int, str)):
            return data
        raise ValueError("not a plain value")
    (tag, body), = data.items()
    if tag == "$x":
        return float.fromhex(body)
    if tag == "$t":
        return tuple(from_wire(v, remote) for v in body)
    if tag == "$d":
        return {from_wire(k, remote): from_wire(v, remote) for k, v in body}
    if tag == "$s":
        return {from_wire(v, remote) for v in body}
    if tag == "$f":
        return frozenset(from_wire(v, remote) for v in body)
    if tag == "$b":
        return bytes.fromhex(body)
    if tag == "$c":
        return complex(float.fromhex(body[0]), float.fromhex(body[1]))
    if tag == "$h":
        return remote(body)
    raise ValueError("unknown tag")


def send(fd, message):
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


class LineReader:
    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def line(self):
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line


# --- the candidate process ----------------------------------------------------------------------

SPECIAL: dict = {"iter": list, "len": len, "str": str, "repr": repr, "bool": bool}


def serve(code, requests, replies):
    """Load the candidate's code, then answer requests until the judge closes the pipe."""
    handles: dict = {}

    def handle(value):
        handles[len(handles)] = value
        return {"$h": [len(handles) - 1, type(value).__name__]}

    def resolve(data):
        return from_wire(data, lambda body: handles[body[0]])

    def reply(result):
        try:
            send(replies, {"ok": True, "value": to_wire(result, handle)})
        except RecursionError:
            send(replies, {"ok": False, "exc": "RecursionError", "error": "the result is nested too deeply"})

    def flush():  # what the candidate printed reaches the output before the judge may stop it
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()

    ns: dict = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(compile(code, "solution.py", "exec"), ns)
    except BaseException as err:  # the candidate's error is the result
        send(replies, {"load_error": describe(err)})
        flush()
        return
    names = {}
    for name, value in list(ns.items()):
        if name.startswith("__"):
            continue
        if type(value).__name__ == "module":
            names[name] = {"module": getattr(value, "__name__", "")}
        elif callable(value):
            names[name] = {"callable": True}
        else:
            try:
                names[name] = {"value": to_wire(value, _not_plain)}
            except (TypeError, RecursionError):
                names[name] = {"handle": to_wire(value, handle)}
    send(replies, {"names": names})
    flush()
    reader = LineReader(requests)
    while True:
        line = reader.line()
        if line is None:  # the judge is done
            flush()
            return
        request = json.loads(line)
        try:
            kind, target = request["target"]
            obj = ns[target] if kind == "n" else handles[target]
            op = request["op"]
            if op == "calls":  # a challenge's cases in one request, one reply each as it ends
                for args, kwargs in request["name"]:
                    try:
                        reply(obj(*resolve(args), **resolve(kwargs)))
                    except BaseException as err:
                        send(replies, {"ok": False, "exc": type(err).__name__, "error": describe(err)})
                    flush()
            elif op == "ops":  # a class-design case in one round trip: construct, then each method
                values = []
                try:
                    instance = obj(*resolve(request["args"]))
                    for method, args in request["name"]:
                        values.append(to_wire(getattr(instance, method)(*resolve(args)), handle))
                except BaseException as err:
                    send(replies, {"ok": False, "values": values, "exc": type(err).__name__, "error": describe(err)})
                    continue
                send(replies, {"ok": True, "value": values})
            elif op == "call":
                reply(obj(*resolve(request["args"]), **resolve(request["kwargs"])))
            elif op == "get":
                reply(getattr(obj, request["name"]))
            else:
                reply(SPECIAL[request["name"]](obj))
        except BaseException as err:
            send(replies, {"ok": False, "exc": type(err).__name__, "error": describe(err)})
        flush()


def _not_plain(value):
    raise TypeError(type(value).__name__)


def start_candidate(code, result_fd):
    """Fork the candidate process (it never holds the result descriptor); the judge's ends."""
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(result_fd)
            os.close(down_w)
            os.close(up_r)
            serve(code, down_r, up_w)
        except BaseException:
            pass
        os._exit(0)
    os.close(down_r)
    os.close(up_w)
    return Candidate(pid, down_w, up_r)


# --- the judge process's view of the candidate --------------------------------------------------

class CandidateGone(Exception):
    """The candidate process stopped or answered with something that is not a reply."""


_exception_types: dict = {}


def candidate_exception(name, message):
    """The exception a test sees for one the candidate raised: the built-in class of that name
    when there is one (not BaseException-only ones such as SystemExit), else a stand-in."""
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = _exception_types.setdefault(name, type(name, (Exception,), {}))
    message = message.split(": ", 1)[1] if message.startswith(name + ": ") else message
    return cls(message)


class Candidate:
    def __init__(self, pid, requests, replies):
        self.pid = pid
        self.requests = requests
        self.reader = LineReader(replies)
        self.gone = ""

    def stop(self, patience=1.0):
        """Close its pipe (it flushes its output and exits), kill it if it lingers; the signal
        that ended it, if one did (SIGXCPU or SIGKILL: its CPU limit), else 0."""
        with contextlib.suppress(OSError):
            os.close(self.requests)
        deadline = time.monotonic() + patience
        while True:  # its end of the reply pipe closes when it exits (or hands the pipe on)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.reader.fd], [], [], remaining)[0]:
                break
            try:
                if not os.read(self.reader.fd, 1 << 16):
                    break
            except OSError:
                break
        for delay in (0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1):
            time.sleep(delay)
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return 0
            if pid:
                return os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return 0

    def _read(self):
        line = self.reader.line()
        if line is None:
            self.gone = self.gone or "the candidate's process stopped"
            raise CandidateGone(self.gone)
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            self.gone = "the candidate's process sent something that is not a reply"
            raise CandidateGone(self.gone) from None

    def hello(self):
        """Its top-level names, or raise CandidateGone with its load error."""
        message = self._read()
        if not isinstance(message, dict) or not isinstance(message.get("names", message.get("load_error")), (dict, str)):
            raise CandidateGone("the candidate's process sent something that is not a reply")
        if "load_error" in message:
            raise CandidateGone(str(message["load_error"]))
        return message["names"]

    def remote(self, body):
        if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], int)):
            raise ValueError("bad handle")
        return Remote(self, ["h", body[0]], str(body[1]))

    def ask(self, op, target, name=None, args=(), kwargs=None):
        if self.gone:
            raise CandidateGone(self.gone)

        def handle(value):
            if isinstance(value, Remote) and value._candidate is self:
                return {"$h": [value._target[1], ""]} if value._target[0] == "h" else value._wire_name()
            raise TypeError(f"only plain values can be passed to the candidate's code, not {type(value).__name__}")

        message = {"op": op, "target": target, "name": name,
                   "args": to_wire(list(args), handle), "kwargs": to_wire(dict(kwargs or {}), handle)}
        self.request(message)
        return self.answer()

    def request(self, message):
        try:
            send(self.requests, message)
        except OSError:
            self.gone = "the candidate's process stopped"
            raise CandidateGone(self.gone) from None

    def answer(self):
        """The next reply: its value, or the candidate's exception raised here."""
        if self.gone:
            raise CandidateGone(self.gone)
        reply = self._read()
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            self.gone = "the candidate's process sent something that is not a reply"
            raise CandidateGone(self.gone)
        if reply["ok"]:
            try:
                return from_wire(reply.get("value"), self.remote)
            except (ValueError, TypeError, KeyError, RecursionError):
                self.gone = "the candidate's process sent something that is not a plain value"
                raise CandidateGone(self.gone) from None
        err = candidate_exception(str(reply.get("exc", "Exception")), str(reply.get("error", "")))
        try:
            err.values = from_wire(reply.get("values", []), self.remote)  # how far a sequence got
        except (ValueError, TypeError, KeyError, RecursionError):
            err.values = []
        raise err


class Remote:
    """An object that lives in the candidate process: calls, attributes, iteration, len and str
    go there; equality and hashing are by identity here."""

    __slots__ = ("_candidate", "_target", "_type")

    def __init__(self, candidate, target, type_name=""):
        self._candidate = candidate
        self._target = target
        self._type = type_name

    def _wire_name(self):
        raise TypeError("pass the candidate's function by calling it, not as a value")

    def __call__(self, *args, **kwargs):
        return self._candidate.ask("call", self._target, args=args, kwargs=kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._candidate.ask("get", self._target, name=name)

    def __iter__(self):
        return iter(self._candidate.ask("special", self._target, name="iter"))

    def __len__(self):
        return self._candidate.ask("special", self._target, name="len")

    def __str__(self):
        return self._candidate.ask("special", self._target, name="str")

    def __repr__(self):
        try:
            return self._candidate.ask("special", self._target, name="repr")
        except Exception:
            return f"<{self._type or 'object'} in the candidate's process>"

    def __bool__(self):
        return bool(self._candidate.ask("special", self._target, name="bool"))


def namespace(candidate, names):
    """The test file's globals: the candidate's names as stand-ins for them."""
    ns = {"__name__": "tests", "__builtins__": builtins}
    for name, info in names.items():
        if not isinstance(info, dict):
            continue
        if "module" in info:
            module = str(info["module"])
            if module.split(".")[0] in sys.stdlib_module_names:
                with contextlib.suppress(ImportError):
                    ns[name] = __import__(module, fromlist=["_"])
        elif "callable" in info:
            ns[name] = Remote(candidate, ["n", name], name)
        elif "value" in info:
            try:
                ns[name] = from_wire(info["value"], candidate.remote)
            except (ValueError, TypeError, KeyError, RecursionError):
                continue
        elif "handle" in info:
            try:
                ns[name] = from_wire(info["handle"], candidate.remote)
            except (ValueError, TypeError, KeyError):
                continue
    return ns


# --- the three modes ----------------------------------------------------------------------------

def run_calls(candidate, ns, job, out):
    fn = ns.get(job["entry_point"])
    if not isinstance(fn, Remote):
        out.emit({"kind": "load_error", "error": "no function or class named {!r} was defined".format(job["entry_point"])})
        return
    cases = [[to_wire(list(c.get("args", [])), _not_plain), to_wire(dict(c.get("kwargs", {})), _not_plain)]
             for c in job["cases"]]
    with contextlib.suppress(CandidateGone):  # then each case below reports it
        candidate.request({"op": "calls", "target": fn._target, "name": cases})
    for i in range(len(cases)):
        try:
            value = candidate.answer()
            out.emit({"i": i, "ok": True, "value": encode(value)})
        except CandidateGone as err:
            out.emit({"i": i, "ok": False, "exc": "CandidateGone", "error": str(err)})
        except Exception as err:  # the candidate's error is the result
            out.emit({"i": i, "ok": False, "exc": type(err).__name__, "error": describe(err)})


def run_ops(candidate, ns, job, out):
    cls = ns.get(job["entry_point"])
    if not isinstance(cls, Remote):
        out.emit({"kind": "load_error", "error": "no class named {!r} was defined".format(job["entry_point"])})
        return
    for i, case in enumerate(job["cases"]):
        ops = [[op["method"], to_wire(list(op.get("args", [])), _not_plain)] for op in case["ops"]]
        try:
            values = candidate.ask("ops", cls._target, name=ops, args=case.get("init_args", []))
            out.emit({"i": i, "ok": True, "values": [encode(v) for v in values]})
        except CandidateGone as err:
            out.emit({"i": i, "ok": False, "values": [], "exc": "CandidateGone", "error": str(err)})
        except Exception as err:
            values = getattr(err, "values", [])
            out.emit({"i": i, "ok": False, "values": [encode(v) for v in values] if isinstance(values, list) else [],
                      "exc": type(err).__name__, "error": describe(err)})


def run_tests(candidate, ns, job, out):
    """Assert-style tests, run here with the candidate's names as stand-ins: each top-level
    assert, each test_* function and a HumanEval-style check(candidate) is a test."""
    try:
        tree = ast.parse(job["test_code"], "tests.py")
    except SyntaxError as err:
        out.emit({"kind": "load_error", "error": "the test file does not parse: " + describe(err)})
        return
    n = 0
    for node in tree.body:
        if isinstance(node, ast.Assert):
            name = f"assert at line {node.lineno}"
            try:
                exec(compile(ast.Module([node], []), "tests.py", "exec"), ns)
                out.emit({"name": name, "ok": True})
            except Exception as err:
                out.emit({"name": name, "ok": False, "error": describe(err)})
            n += 1
        else:
            try:
                exec(compile(ast.Module([node], []), "tests.py", "exec"), ns)
            except Exception as err:
                out.emit({"kind": "load_error", "error": f"the test file failed at line {node.lineno}: {describe(err)}"})
                return
    tests = [(name, fn) for name, fn in ns.items()
             if name.startswith("test_") and callable(fn) and not isinstance(fn, Remote)]
    entry = job.get("entry_point") or ns.get("ENTRY_POINT")
    check = ns.get("check")
    if callable(check) and not isinstance(check, Remote) and isinstance(entry, str) and entry:
        tests.append((f"check({entry})", lambda: check(ns[entry])))
    for name, fn in tests:
        try:
            fn()
            out.emit({"name": name, "ok": True})
        except Exception as err:
            out.emit({"name": name, "ok": False, "error": describe(err)})
        n += 1
    if n == 0:
        out.emit({"kind": "load_error", "error": "the test file defines no assert, test_* function or check()"})


def main():
    result_fd = int(sys.argv[1])
    out = Channel(result_fd)
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    set_limits(job["limits"])
    not_dumpable()
    out.emit({"kind": "started"})  # the wall clock outside starts now, not while bwrap and Python start
    candidate = start_candidate(job["code"], result_fd)
    try:
        names = candidate.hello()
    except CandidateGone as err:
        gone(out, str(err), candidate.stop())
        return
    ns = namespace(candidate, names)
    {"calls": run_calls, "ops": run_ops, "tests": run_tests}[job["mode"]](candidate, ns, job, out)
    if candidate.gone:
        gone(out, candidate.gone + " before every test ran", candidate.stop())
        return
    with contextlib.suppress(OSError):  # it flushed its output after its last reply
        os.kill(candidate.pid, signal.SIGKILL)
    out.emit({"kind": "done"})


def gone(out, error, sig):
    """The candidate's process ended early: a load error, with the signal that ended it (the
    judge outside reads SIGXCPU and SIGKILL as its CPU limit)."""
    out.emit({"kind": "load_error", "error": error + (f" (killed by signal {sig})" if sig else ""), "signal": sig})


if __name__ == "__main__":
    main()
