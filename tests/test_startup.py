"""Start-up: `coach --help` loads none of the heavy SDKs, and the deferred collector comes back."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from bots import startup

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"langgraph", "langchain_core", "langsmith", "sqlalchemy", "pydantic_settings", "numpy", "yaml", "mcp",
         "telegram", "anthropic", "wordllama", "alembic"}


def test_help_imports_no_heavy_package() -> None:
    script = ("import sys\nfrom bots.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
              "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert "Usage" in out
    loaded = set(out.splitlines()[-1].split())
    assert "typer" in loaded and HEAVY.isdisjoint(loaded), HEAVY & loaded


def test_collection_is_only_deferred_and_comes_back_after_start_up() -> None:
    before = gc.get_threshold()
    try:
        startup.defer_collection()
        assert gc.isenabled() and gc.get_threshold() == startup.STARTUP_THRESHOLD  # rarer, never off
        startup.loaded()
        assert gc.isenabled() and gc.get_threshold() == startup.DEFAULT_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
