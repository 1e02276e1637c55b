"""Errors, split by who must act.

    CoachError            base; `str(err)` is written for the person who must act next
    ├── ConfigError       the operator: settings, keys, paths
    ├── AnswerRejected    the candidate: empty, oversized or malformed input; nothing was stored
    ├── NotFound          the caller: unknown session, topic, question or challenge
    ├── SessionClosed     the caller: the session already ended
    └── SessionBusy       the candidate: another window or device is acting on the session; retry
Front-ends print these as one line and exit non-zero; anything else is a bug and is logged.
"""


class CoachError(Exception):
    """An error the user can act on."""


class ConfigError(CoachError):
    pass


class AnswerRejected(CoachError):
    pass


class NotFound(CoachError, LookupError):
    pass


class SessionClosed(CoachError):
    pass


class SessionBusy(CoachError):
    """Another process holds the session's lock (another terminal, chat worker or MCP client)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id} is busy in another window or device; nothing was saved from this "
            "message. Wait until the other one has answered, then send it again"
        )
        self.session_id = session_id
