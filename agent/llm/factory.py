"""Choose the model adapter: Claude when a key is set (or --online), the offline coach otherwise."""

from __future__ import annotations

from agent.config import Settings
from agent.errors import ConfigError
from agent.llm.offline import OfflineLLM
from agent.llm.port import LLM


def make_llm(settings: Settings, offline: bool | None = None) -> LLM:
    """offline=True forces the offline coach; False demands Claude; None picks by the key."""
    if offline is True or (offline is None and not settings.has_api_key):
        return OfflineLLM()
    if not settings.has_api_key:
        raise ConfigError("--online needs a Claude API key: set ANTHROPIC_API_KEY, or run with --offline")
    from agent.llm.anthropic_llm import AnthropicLLM  # here, so the offline path never loads the SDK

    return AnthropicLLM.from_settings(settings)
