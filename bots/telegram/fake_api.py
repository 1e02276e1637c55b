"""An in-memory Telegram Bot API for tests and benchmarks: the real python-telegram-bot stack, no network.

    api = FakeBotAPI()
    app = build_application(settings, coach, token="123:abc", request=api)
    await app.process_update(Update.de_json(api.text_update(chat_id=7, text="/start"), app.bot))
    api.sent  # every sendMessage / sendPhoto / sendDocument ... with its parameters

It answers the methods the coach uses the way the Bot API does (same shapes, dates in seconds),
and can build incoming updates (messages, documents, stickers, voice, callback queries, edits).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT = {"id": 1000, "is_bot": True, "first_name": "Coach", "username": "coach_test_bot",
       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Sent:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def chat_id(self) -> int:
        return int(self.params["chat_id"])

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class FakeBotAPI(BaseRequest):
    sent: list[Sent] = field(default_factory=list)
    by_chat: dict[int, list[Sent]] = field(default_factory=dict)
    """The same messages indexed by chat, so a load test's polling does not scan every chat's."""
    commands: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _updates: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- BaseRequest ------------------------------------------------------------------------------

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None, pool_timeout=None):
        name = url.rsplit("/", 1)[-1]
        params = _decode(request_data.parameters if request_data else {})
        files = {}
        if request_data is not None and request_data.contains_files:
            for name_, (_filename, content, _mime) in request_data.multipart_data.items():
                files[name_] = content if isinstance(content, bytes) else content.read()
        result = self._answer(name, params, files)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer(self, name: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if name == "getMe":
            return BOT
        if name in ("sendMessage", "sendPhoto", "sendDocument", "editMessageText"):
            self._record(Sent(name, params, files))
            return self._message(params)
        if name == "setMyCommands":
            self.commands = params.get("commands", [])
            return True
        if name == "getMyCommands":
            return self.commands
        if name == "getUpdates":
            return []
        if name in ("sendChatAction", "answerCallbackQuery", "deleteWebhook", "setWebhook", "close", "logOut"):
            self._record(Sent(name, params))
            return True
        raise AssertionError(f"the fake Bot API does not know {name}")

    def _record(self, sent: Sent) -> None:
        self.sent.append(sent)
        if "chat_id" in sent.params:
            self.by_chat.setdefault(sent.chat_id, []).append(sent)

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._ids), "date": int(time.time()), "from": BOT,
                   "chat": {"id": chat_id, "type": "private"}}
        if "text" in params:
            message["text"] = params["text"]
        if "caption" in params:
            message["caption"] = params["caption"]
        if "photo" in params:
            message["photo"] = [{"file_id": "p1", "file_unique_id": "p1", "width": 800, "height": 450}]
        if "document" in params:
            message["document"] = {"file_id": "d1", "file_unique_id": "d1", "file_name": "x"}
        return message

    # --- building incoming updates ----------------------------------------------------------------

    def replies(self, chat_id: int, method: str = "sendMessage") -> list[Sent]:
        return [s for s in self.by_chat.get(chat_id, []) if s.method == method]

    def _base(self, chat_id: int, user_id: int | None, chat_type: str = "private") -> dict[str, Any]:
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": f"user{user_id or chat_id}"}
        chat = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "a group"
        return {"message_id": next(self._ids), "date": int(time.time()), "chat": chat, "from": user}

    def text_update(self, chat_id: int, text: str, user_id: int | None = None, chat_type: str = "private",
                    update_id: int | None = None) -> dict[str, Any]:
        message = self._base(chat_id, user_id, chat_type) | {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": update_id or next(self._updates), "message": message}

    def edited_update(self, chat_id: int, text: str) -> dict[str, Any]:
        message = self._base(chat_id, None) | {"text": text, "edit_date": int(time.time())}
        return {"update_id": next(self._updates), "edited_message": message}

    def media_update(self, chat_id: int, kind: str) -> dict[str, Any]:
        """A sticker, photo, voice note or document message."""
        media = {
            "sticker": {"sticker": {"file_id": "s", "file_unique_id": "s", "width": 512, "height": 512,
                                    "is_animated": False, "is_video": False, "type": "regular"}},
            "photo": {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 90, "height": 90}]},
            "voice": {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}},
            "document": {"document": {"file_id": "d", "file_unique_id": "d", "file_name": "notes.pdf"}},
        }[kind]
        return {"update_id": next(self._updates), "message": self._base(chat_id, None) | media}

    def callback_update(self, chat_id: int, data: str) -> dict[str, Any]:
        message = self._base(chat_id, None) | {"from": BOT, "text": "menu"}
        return {"update_id": next(self._updates), "callback_query": {
            "id": str(next(self._ids)), "from": message["chat"] | {"is_bot": False, "first_name": "u"},
            "chat_instance": str(chat_id), "data": data, "message": message}}


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    """PTB sends nested values JSON-encoded in form fields; decode them back."""
    out = {}
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out
