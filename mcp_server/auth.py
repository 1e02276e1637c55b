"""Who may talk to the coach over HTTP: one bearer token (COACH_MCP_TOKEN), checked by the MCP
SDK's own bearer middleware (a request without the right `Authorization: Bearer` header gets 401).

Why the SDK hook and not a Starlette middleware of our own: the SDK already answers 401 with a
proper `WWW-Authenticate` header, binds each MCP session to the principal that created it, and
keeps its Host/Origin (DNS-rebinding) checks on loopback; all we add is a constant-time compare.
Without a token, HTTP is served on loopback only: anyone who can reach the port would otherwise
act as this server's candidate (read transcripts, run code).
"""

from __future__ import annotations

import hmac
import ipaddress

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from agent.errors import ConfigError

MIN_TOKEN_CHARS = 16
HOW_TO_SET = "set COACH_MCP_TOKEN to a random secret (`export COACH_MCP_TOKEN=$(openssl rand -hex 32)`)"


class BearerToken:
    """The SDK's TokenVerifier for one shared secret; the secret is never logged or echoed."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._secret):
            return None
        return AccessToken(token="(COACH_MCP_TOKEN)", client_id="coach-mcp-client", scopes=[])


def auth_settings(host: str, port: int) -> AuthSettings:
    """Resource-server-only settings: no OAuth endpoints, no metadata route, just the bearer check.
    The SDK requires an issuer URL; nothing is ever fetched from it."""
    return AuthSettings(issuer_url=f"http://{_url_host(host)}:{port}", resource_server_url=None)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_token(secret: str | None, host: str) -> str | None:
    """The token to require over HTTP, or None on loopback without one; refuses everything else."""
    token = (secret or "").strip()
    if not token:
        if is_loopback(host):
            return None
        raise ConfigError(f"refusing to serve MCP over HTTP on {host} without a bearer token: {HOW_TO_SET} "
                          "or use --host 127.0.0.1")
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"COACH_MCP_TOKEN is shorter than {MIN_TOKEN_CHARS} characters: {HOW_TO_SET}")
    return token


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
