"""Eight real processes open one empty database at once: every one comes up (schema created once,
the checkpointer's tables once) and starts its interview."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from agent.config import Settings
from agent.store import migrate
from tests.conftest import MINI_BANK

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_eight_processes_starting_on_an_empty_database_all_come_up(settings: Settings) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACH_HOME": str(settings.home_dir),
           "COACH_BANK_DIR": str(MINI_BANK)}
    if settings.database_url:
        env["COACH_DATABASE_URL"] = settings.database_url
    procs = [subprocess.Popen([sys.executable, "-m", "tests.drivers.session_driver", "open", f"user{i}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    outcomes = [proc.communicate(timeout=300) for proc in procs]
    for proc, (out, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        assert json.loads(out.splitlines()[-1])["prompt"] is True
    url = settings.db_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [migrate.HEAD]
            assert conn.execute(text("SELECT count(*) FROM interview_sessions")).scalar() == 8
    finally:
        engine.dispose()
