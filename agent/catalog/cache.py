"""The bank's parsed YAML, cached under COACH_HOME and keyed by a hash of the files' content.

Why: the bundled bank is about 1 MB of YAML; even libyaml's C loader takes ~0.15 s to parse it,
the largest single cost before the first question. Unpickling the same plain items takes ~10 ms.

Only the YAML parse is cached: every item is still validated by the pydantic models on load, so a
cache can never let an invalid bank through. The key covers every file's name and bytes, so an
edited bank misses the cache and is parsed (and checked) afresh. Pickle keeps YAML's own types
(dates, integer keys) exactly, which JSON would not; the file lives in the user's own home
directory, next to their database, and is written atomically. Any problem reading or writing the
cache falls back to parsing the YAML.
"""

from __future__ import annotations

import hashlib
import os
import pickle
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


def cached_items(paths: list[Path], parse: Callable[[Path], list[Any]], cache_dir: Path | None) -> list[list[Any]]:
    """`parse(path)` for every path, from the cache in `cache_dir` when the files are unchanged."""
    if cache_dir is None:
        return [parse(p) for p in paths]
    try:
        target = cache_dir / f"bank-{_key(paths)}.pickle"
    except OSError:
        return [parse(p) for p in paths]  # the parse reports the unreadable file by name
    try:
        with target.open("rb") as f:
            items = pickle.load(f)
        if isinstance(items, list) and len(items) == len(paths):
            return items
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        pass
    items = [parse(p) for p in paths]
    _write(target, items)
    return items


def _write(target: Path, items: list[list[Any]]) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".bank-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)  # atomic: a concurrent reader sees the old file or the whole new one
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home only loses the speed-up
