"""The sandbox uids are shared by every coach process on the host (another test run, a bot): a
test may only count processes of the uids this process holds, and checks a fresh job's uid at
the moment it is handed back, while it is still ours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.runner import sandbox

LEFT_AT_RELEASE: list[int] = []
"""Live processes of a sandbox uid when this process handed it back (release_uid kills them first)."""


@pytest.fixture(autouse=True)
def record_leftovers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    give = sandbox._uids.give

    def checked_give(uid: int) -> None:
        LEFT_AT_RELEASE.extend(sandbox._pids_of(uid))
        give(uid)

    LEFT_AT_RELEASE.clear()
    monkeypatch.setattr(sandbox._uids, "give", checked_give)
    yield LEFT_AT_RELEASE
