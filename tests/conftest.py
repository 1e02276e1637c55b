"""Every test gets its own COACH_HOME, no API key, and the small fixture bank unless it asks otherwise."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

try:  # a clone without the project installed: say the one command, not a ModuleNotFoundError
    import langgraph  # noqa: F401
except ModuleNotFoundError as err:
    raise pytest.UsageError(f"{err.name} is not installed: run `pip install -e \".[test]\"` first, "
                            "then `pytest` (the README's test command does both)") from None

from agent.catalog import Catalog
from agent.config import Settings
from agent.service import SessionService

FIXTURES = Path(__file__).parent / "fixtures"
MINI_BANK = FIXTURES / "bank"
PG_ADMIN_URL = os.environ.get("COACH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def coach_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "coach-home"
    monkeypatch.setenv("COACH_HOME", str(home))
    for var in ("ANTHROPIC_API_KEY", "DATABASE_URL", "COACH_DATABASE_URL", "COACH_BANK_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return home


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mini_bank() -> Catalog:
    return Catalog.load(MINI_BANK)


def _postgres_database() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"coach_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {err}")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def database_url(request, coach_home: Path) -> Iterator[str | None]:
    """Run a test on the default SQLite file and again on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _postgres_database()


@pytest.fixture
def settings(coach_home: Path, database_url: str | None) -> Settings:
    return Settings(home=coach_home, database_url=database_url)


@pytest.fixture
async def coach(settings: Settings, mini_bank: Catalog) -> AsyncIterator[SessionService]:
    async with SessionService.open(settings, offline=True, catalog=mini_bank) as service:
        yield service
