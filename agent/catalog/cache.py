"""The bank's parsed YAML, cached under COACH_HOME and keyed by a hash of the files' content.

Why: the bundled bank is about 1 MB of YAML; even libyaml's C loader takes ~0.15 s to parse it,
the largest single cost before the first question. Unpickling the same plain items takes ~10 ms.

Only the YAML parse is cached: every item is still validated by the pydantic models on load, so a
cache can never let an invalid bank through. The key covers every file's name and bytes, so an
edited bank misses the cache and is parsed (and checked) afresh. Pickle keeps YAML's own types
(dates, integer keys) exactly, which JSON would not; the file lives in the user's own home
directory, next to their database, and is written atomically. Any problem reading or writing the
cache falls back to parsing the YAML.

The bundled bank has a second place, shared by every home, kept where and when Python keeps the
package's own bytecode: `agent/catalog/__pycache__/` (or under `PYTHONPYCACHEPREFIX`), written by
the first process that may write bytecode (not under `PYTHONDONTWRITEBYTECODE`), or at install time
with `python -m agent.catalog` (like `compileall`). A new COACH_HOME then starts without parsing the
bank. Where that directory is read-only, the cache under COACH_HOME serves as before. Only the
bundled bank is kept there, never a user's own bank.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
"""Bump when the cached structure changes, so old cache files are ignored."""


def _key(paths: list[Path]) -> str:
    digest = hashlib.sha256(f"bank-cache-{FORMAT}".encode())
    for path in paths:
        data = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def shared_cache_dir(package: Path) -> Path:
    """Where Python keeps `package`'s bytecode: its `__pycache__`, or the same path under the prefix."""
    if sys.pycache_prefix:
        return Path(sys.pycache_prefix) / package.resolve().relative_to(package.resolve().anchor)
    return package / "__pycache__"


def cached_items(paths: list[Path], parse: Callable[[Path], list[Any]], cache_dir: Path | None,
                 shared_dir: Path | None = None, write_shared: bool | None = None) -> list[list[Any]]:
    """`parse(path)` for every path, from a cache when the files are unchanged: `shared_dir` (the
    bundled bank's, beside the package) first, then `cache_dir`; a miss is written to the first of
    the two that can be written (`shared_dir` only where Python may write bytecode, unless
    `write_shared`)."""
    if write_shared is None:
        write_shared = not sys.dont_write_bytecode
    dirs = [d for d in (shared_dir, cache_dir) if d is not None]
    if not dirs:
        return [parse(p) for p in paths]
    try:
        name = f"bank-{_key(paths)}.pickle"
    except OSError:
        return [parse(p) for p in paths]  # the parse reports the unreadable file by name
    for directory in dirs:
        items = _read(directory / name, len(paths))
        if items is not None:
            return items
    items = [parse(p) for p in paths]
    for directory in dirs:
        if directory == shared_dir and not write_shared:
            continue
        if _write(directory / name, items, shared=directory == shared_dir):
            break
    return items


def _read(target: Path, count: int) -> list[list[Any]] | None:
    try:
        with target.open("rb") as f:
            items = pickle.load(f)
        if isinstance(items, list) and len(items) == count:
            return items
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        pass
    return None


def _write(target: Path, items: list[list[Any]], shared: bool = False) -> bool:
    """Whether the cache file was written; a shared one is readable by every user, like a `.pyc`."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".bank-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
            if shared:
                os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # atomic: a concurrent reader sees the old file or the whole new one
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False  # a read-only directory only loses the speed-up
    return True
