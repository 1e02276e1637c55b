"""One Settings object, read once at the composition root and passed down.

Every file the coach writes lives under `COACH_HOME` (default `~/.coach`), so tests point one
variable at a temp dir. Values come from the environment and an optional `.env` file.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.runner.limits import SandboxLimits

USER_NAME_MAX_CHARS = 120
"""The store keeps a user's name in 120 characters (PostgreSQL enforces it)."""


def user_name_problem(name: str) -> str | None:
    """Why `name` cannot name a user (None when it can): the name keys the user's history in the
    database and names files under COACH_HOME (the progress chart), so it is short, printable text
    without path separators."""
    if not name.strip():
        return "a user name cannot be empty"
    if len(name) > USER_NAME_MAX_CHARS:
        return f"a user name has at most {USER_NAME_MAX_CHARS} characters, this one has {len(name)}"
    if "/" in name or "\\" in name:
        return "a user name cannot contain / or \\"
    if name != name.strip() or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        return "a user name cannot hold control characters or leading or trailing spaces"
    return None


class Price(BaseModel):
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


DEFAULT_PRICES: dict[str, Price] = {
    "claude-sonnet-4-6": Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30),
    "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_write=1.25, cache_read=0.10),
    "claude-opus-4-6": Price(input=5.0, output=25.0, cache_write=6.25, cache_read=0.50),
}


class Budgets(BaseModel):
    """Model spend caps in US dollars. At `warn_at` of any cap the candidate is told; at the cap
    the coach falls back to the offline interviewer and grader, or stops (`on_exhausted`)."""

    session_usd: float = 0.50
    user_daily_usd: float = 2.00
    global_daily_usd: float = 25.00
    warn_at: float = 0.8
    on_exhausted: Literal["offline", "stop"] = "offline"


class Limits(BaseModel):
    max_answer_chars: int = 20_000
    max_code_chars: int = 50_000
    max_tests_chars: int = 100_000
    """Size cap on assert-style test code given to `run_code` (the runner's own backstop is larger)."""
    messages_per_minute: int = 20
    """Actions one user may send per minute (answers, hints) on shared front-ends; 0 = no limit."""
    model_calls_per_turn: int = 4
    """Billed model requests (retries included) one candidate action may trigger before the coach
    stops asking the model."""
    questions_per_session: int = 5
    max_questions_per_session: int = 30
    follow_ups_per_question: int = 2
    hints_per_question: int = 2
    submissions_per_challenge: int = 3
    """Code submissions a coding question accepts before the reference solution is shown."""
    max_steps_per_action: int = 12
    """Supervisor visits one candidate action may take (a normal turn takes 3) before the coach
    ends the step with a message."""
    recursion_limit: int = 40
    """LangGraph's own cap on node runs per invoke: the backstop behind max_steps_per_action."""
    max_turns_per_session: int = 120
    session_busy_wait_s: float = 5.0
    """How long an action waits for another window or device acting on the same session before the
    coach says the session is busy."""
    session_lease_s: float = 60.0
    """A session lock's lease: renewed while its holder works, taken over once it lapses (a holder
    killed on another machine) or at once when the holder was a dead process on this machine."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COACH_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(
        default=Path("~/.coach"), validation_alias=AliasChoices("COACH_HOME", "home")
    )
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "COACH_DATABASE_URL", "database_url")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "anthropic_api_key")
    )
    anthropic_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "anthropic_base_url")
    )
    interviewer_model: str = "claude-haiku-4-5"
    grader_model: str = "claude-sonnet-4-6"
    max_output_tokens: int = 1024
    prices: dict[str, Price] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    limits: Limits = Field(default_factory=Limits)
    budgets: Budgets = Field(default_factory=Budgets)
    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    )
    telegram_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BASE_URL", "telegram_base_url")
    )
    """A self-hosted Bot API server, e.g. http://localhost:8081 (default: api.telegram.org)."""
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "telegram_webhook_secret")
    )
    mcp_token: SecretStr | None = None
    """COACH_MCP_TOKEN: the bearer token `coach mcp --transport http` requires, and the one the
    McpCodeRunner client sends to the runner pool at COACH_RUNNER_URL."""
    telegram_merge_seconds: float = Field(default=2.5, ge=0, le=30)
    """Text messages a chat sends within this many seconds of each other are one answer (0: never merge)."""
    stt_url: str | None = None
    """An OpenAI-compatible speech-to-text server (COACH_STT_URL, e.g. http://localhost:8000/v1/audio/transcriptions)
    for voice answers in Telegram; unset: voice notes get a polite "please type"."""
    stt_model: str = "whisper-1"
    stt_key: SecretStr | None = None
    """Bearer token for the speech-to-text server (COACH_STT_KEY); never logged."""
    runner_url: str | None = None
    """A code-runner MCP server over streamable HTTP (e.g. http://runners:8766/mcp); default in-process."""
    runner_warm: int = Field(default=0, ge=0, le=16)
    """Warm sandboxes the in-process code runner keeps (COACH_RUNNER_WARM); 0 starts one per job."""
    runner_limits: SandboxLimits = Field(default_factory=SandboxLimits)
    """CPU, memory, wall time and output caps of each sandboxed job (COACH_RUNNER_LIMITS__WALL_SECONDS=...)."""
    unsafe_runner: bool = False
    """COACH_UNSAFE_RUNNER=1: run code unsandboxed where bubblewrap is missing (developer machines only)."""
    default_user: str = "local"
    bank_dir: Path | None = None
    """A bank directory (questions/, challenges/, formats.yaml) to use instead of the bundled one."""

    @field_validator("default_user")
    @classmethod
    def _user_name(cls, name: str) -> str:
        problem = user_name_problem(name)
        if problem:
            raise ValueError(f"{problem} (COACH_DEFAULT_USER)")
        return name

    def for_local_terminal(self) -> Settings:
        """The terminal has one local user, so the per-user message rate limit is off."""
        return self.model_copy(update={"limits": self.limits.model_copy(update={"messages_per_minute": 0})})

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'coach.db'}"

    @property
    def checkpoint_path(self) -> Path:
        return self.home_dir / "checkpoints.sqlite"

    @property
    def has_api_key(self) -> bool:
        return bool(self.anthropic_api_key and self.anthropic_api_key.get_secret_value().strip())
