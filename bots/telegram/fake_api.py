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
import html as html_lib
import itertools
import json
import re
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
    files: dict[str, bytes] = field(default_factory=dict)
    """Files users sent (voice notes, documents) by file_id, served by getFile and the file URL."""
    rejected: list[Sent] = field(default_factory=list)
    """Calls answered 400 the way Telegram would (HTML that does not parse, a message too long)."""
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
        if "/file/bot" in url:  # a file download (getFile's file_path under the file URL)
            path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            return 200, self.files[path.rsplit("/", 1)[-1]]
        problem = _rejected(name, params)
        if problem:
            self.rejected.append(Sent(name, params, files))
            return 400, json.dumps({"ok": False, "error_code": 400, "description": problem}).encode()
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
        if name == "getFile":
            file_id = str(params["file_id"])
            if file_id not in self.files:
                raise AssertionError(f"no file {file_id} was registered with the fake Bot API")
            return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]),
                    "file_path": f"files/{file_id}"}
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

    def voice_update(self, chat_id: int, audio: bytes, file_id: str = "voice1") -> dict[str, Any]:
        """A voice note whose OGG bytes getFile and the file URL serve."""
        self.files[file_id] = audio
        voice = {"file_id": file_id, "file_unique_id": file_id, "duration": 3, "mime_type": "audio/ogg",
                 "file_size": len(audio)}
        return {"update_id": next(self._updates), "message": self._base(chat_id, None) | {"voice": voice}}

    def callback_update(self, chat_id: int, data: str, message_id: int | None = None,
                        chat_type: str = "private") -> dict[str, Any]:
        """A button tap; the same `message_id` twice is a double tap on one message's button."""
        message = self._base(chat_id, None, chat_type) | {"from": BOT, "text": "menu"}
        if message_id is not None:
            message["message_id"] = message_id
        return {"update_id": next(self._updates), "callback_query": {
            "id": str(next(self._ids)), "from": {"id": chat_id if chat_type == "private" else 1, "is_bot": False,
                                                 "first_name": "u"},
            "chat_instance": str(chat_id), "data": data, "message": message}}


HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
             "pre", "blockquote", "tg-emoji"}
NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)((?:\s[^<>]*)?)>")


def _rejected(method: str, params: dict[str, Any]) -> str | None:
    """Telegram's 400 for this call, or None: HTML that does not parse, an empty or too long text."""
    key = "text" if method in ("sendMessage", "editMessageText") else "caption"
    if key not in params:
        return None
    text = str(params[key])
    if params.get("parse_mode") == "HTML":
        try:
            text = parse_html(text)
        except ValueError as err:
            return f"Bad Request: can't parse entities: {err}"
    if key == "text" and not text.strip():
        return "Bad Request: message text is empty"
    limit = 4096 if key == "text" else 1024
    if len(text.encode("utf-16-le")) // 2 > limit:
        return "Bad Request: message is too long" if key == "text" else "Bad Request: message caption is too long"
    return None


def parse_html(html: str) -> str:
    """The plain text of Telegram-flavoured HTML, or ValueError the way the Bot API words it."""
    out: list[str] = []
    stack: list[str] = []
    at = 0
    while at < len(html):
        char = html[at]
        if char == "<":
            match = _TAG.match(html, at)
            if match is None:
                raise ValueError(f"unsupported start tag at byte offset {at}")
            closing, name = match.group(1), match.group(2).lower()
            if name not in HTML_TAGS:
                raise ValueError(f'unsupported start tag "{name}" at byte offset {at}')
            if closing:
                if not stack or stack[-1] != name:
                    raise ValueError(f'unmatched end tag at byte offset {at}, expected "</{stack[-1] if stack else ""}>", '
                                     f'found "</{name}>"')
                stack.pop()
            else:
                stack.append(name)
            at = match.end()
        elif char == "&":
            end = html.find(";", at)
            name = html[at + 1 : end] if end != -1 else ""
            if name in NAMED_ENTITIES or re.fullmatch(r"#\d+|#x[0-9A-Fa-f]+", name):
                out.append(html_lib.unescape(html[at : end + 1]))
                at = end + 1
            else:
                out.append("&")  # Telegram keeps a lone ampersand that starts no entity as text
                at += 1
        elif char == ">":
            out.append(">")
            at += 1
        else:
            out.append(char)
            at += 1
    if stack:
        raise ValueError(f'can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    """PTB sends nested values JSON-encoded in form fields; decode them back."""
    out = {}
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out
