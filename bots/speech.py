"""Speech to text for voice answers: an OpenAI-compatible `/v1/audio/transcriptions` server.

    transcriber = Transcriber.from_settings(settings)   # None unless COACH_STT_URL is set
    text = await transcriber.transcribe(ogg_bytes)

One multipart POST with the audio file and the model name (COACH_STT_MODEL, default "whisper-1"),
and COACH_STT_KEY as a bearer token when set. The key is never logged and never part of an error:
failures say what happened to the request, not what was in it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx

from agent.config import Settings

log = logging.getLogger(__name__)


class TranscriptionFailed(Exception):
    """The speech-to-text server could not be reached or gave no text; the message is safe to show."""


@dataclass(frozen=True)
class Transcriber:
    url: str
    model: str = "whisper-1"
    key: str | None = field(default=None, repr=False)
    timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Transcriber | None:
        if not settings.stt_url:
            return None
        key = settings.stt_key.get_secret_value() if settings.stt_key else None
        return cls(url=settings.stt_url, model=settings.stt_model, key=key)

    async def transcribe(self, audio: bytes, filename: str = "voice.ogg", mime: str = "audio/ogg") -> str:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(self.url, headers=headers, data={"model": self.model},
                                             files={"file": (filename, audio, mime)})
        except httpx.HTTPError as err:
            log.warning("speech-to-text request failed: %s", type(err).__name__)
            raise TranscriptionFailed("the speech-to-text server did not answer") from None
        if response.status_code != 200:
            log.warning("speech-to-text server answered %s", response.status_code)
            raise TranscriptionFailed(f"the speech-to-text server answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TranscriptionFailed("the speech-to-text server's answer was not JSON") from None
        text = str(body.get("text") or "").strip() if isinstance(body, dict) else ""
        if not text:
            raise TranscriptionFailed("no words were recognised")
        return text
