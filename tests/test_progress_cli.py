"""`coach progress` and `coach usage` as a user runs them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from tests.conftest import MINI_BANK
from tests.test_cli import coach


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_colours(data: bytes) -> int:
    """Distinct RGBA pixels in the first rows: a blank image has one."""
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        if data[pos + 4 : pos + 8] == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    return len({raw[i : i + 4] for i in range(0, min(len(raw), 400_000), 4)})


@pytest.mark.slow
def test_progress_shows_weak_topics_and_writes_a_chart(coach_home: Path, tmp_path: Path) -> None:
    env = {"COACH_BANK_DIR": str(MINI_BANK)}
    empty = coach("progress", "--user", "zed", env=env)
    assert empty.returncode == 0 and "no graded answers yet" in empty.stdout

    for answers in ("/skip\n/skip\n", "It avoids a full table scan, so lookups are faster.\n/end\n"):
        run = coach("interview", "--offline", "-n", "2", "--user", "zed", stdin=answers, env=env)
        assert run.returncode == 0, run.stderr
    chart = tmp_path / "zed.png"
    out = coach("progress", "--user", "zed", "--chart", str(chart), env=env)
    assert out.returncode == 0, out.stderr
    assert "Weak topics" in out.stdout and "mastery" in out.stdout and "graded answer" in out.stdout
    data = chart.read_bytes()
    assert png_size(data) == (880, 495) and png_colours(data) > 5

    other = coach("progress", "--user", "amy", env=env)
    assert "no graded answers yet" in other.stdout  # strictly per user


@pytest.mark.slow
def test_usage_with_no_model_calls_says_so() -> None:
    out = coach("usage")
    assert out.returncode == 0 and "offline coach costs nothing" in out.stdout
