"""The typing indicator, only when the candidate would otherwise wait.

Why: a chat action is a Bot API call like any other and counts against the bot's rate limit, and
most offline replies are ready in a few tens of milliseconds, before an indicator would even be
drawn. So the indicator is sent once per answer, and only when the reply is not ready after
`after` seconds: a delayed task that the reply cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Chat
from telegram.constants import ChatAction
from telegram.error import TelegramError

log = logging.getLogger(__name__)

TYPING_AFTER = 0.3
"""Seconds a reply may take before the candidate sees "typing…"."""


@contextlib.asynccontextmanager
async def typing_if_slow(chat: Chat, after: float = TYPING_AFTER) -> AsyncIterator[None]:
    """Show "typing…" in `chat` once, if the body is still running after `after` seconds."""
    started = asyncio.Event()

    async def indicate() -> None:
        await asyncio.sleep(after)
        started.set()
        try:
            await chat.send_chat_action(ChatAction.TYPING)
        except TelegramError as err:  # a lost indicator must not lose the answer
            log.debug("typing indicator for chat %s failed: %s", chat.id, err)

    task = asyncio.create_task(indicate())
    try:
        yield
    finally:
        if started.is_set():
            await task  # already on its way: let it land before the reply, not after it
        else:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
