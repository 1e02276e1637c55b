"""Connection-pool policy for a database server (PostgreSQL): when a pooled connection is checked.

SQLAlchemy's `pool_pre_ping` costs a round trip on every checkout, that is on every transaction,
about a fifth of what a Telegram message cost the store. Here a connection is pinged only when it
sat in the pool longer than `IDLE_PING_S`: that is when a server restart, a proxy's idle timeout
or a failover may have dropped it. A connection in steady use is not pinged. One dropped between
uses fails its transaction once; SQLAlchemy then recycles every pooled connection as old as it,
and the caller's own retry gets a fresh one (the webhook answers 503, so Telegram delivers the
update again; an inbox drain that fails leaves its rows to the sweep).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_PING_S = 10.0


def ping_when_idle(engine: Engine, idle_s: float = IDLE_PING_S) -> None:
    """Ping a connection at checkout only if it was idle in the pool for more than `idle_s`."""
    dialect = engine.dialect

    def checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= idle_s:
            return  # new, or in steady use
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as err:  # the pool replaces the connection and tries again
            raise DisconnectionError(f"a pooled connection idle for {time.monotonic() - since:.0f} s was dropped") \
                from err

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)
