"""The sandbox uids are shared by every coach process on the host (another test run, a bot): a
test may only count processes of the uids this process holds, and checks a fresh job's uid at
the moment it is handed back, while it is still ours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.runner import cgroup, sandbox

LEFT_AT_RELEASE: list[int] = []
"""Live processes of a sandbox uid when this process handed it back (release_uid kills them first)."""
CGROUPS_LEFT: list[str] = []
"""Job cgroups that still existed when their uid was handed back (release_uid removes them first)."""


@pytest.fixture(autouse=True)
def record_leftovers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    give = sandbox._uids.give

    def checked_give(uid: int) -> None:
        LEFT_AT_RELEASE.extend(sandbox._pids_of(uid))
        layout = cgroup.detect()
        CGROUPS_LEFT.extend(str(base / f"uid-{uid}") for base in (layout.bases if layout else ())
                            if (base / f"uid-{uid}").exists())
        give(uid)

    LEFT_AT_RELEASE.clear()
    CGROUPS_LEFT.clear()
    monkeypatch.setattr(sandbox._uids, "give", checked_give)
    yield LEFT_AT_RELEASE
