"""Errors, split by who must act.

    CoachError            base; `str(err)` is written for the person who must act next
    ├── ConfigError       the operator: settings, keys, paths
    ├── AnswerRejected    the candidate: empty, oversized or malformed input; nothing was stored
    ├── NotFound          the caller: unknown session, topic, question or challenge
    └── SessionClosed     the caller: the session already ended
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
