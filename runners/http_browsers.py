"""What a web browser on the operator's machine must not do to a local trueup serve.

A page from any site the operator opens can send a POST to 127.0.0.1 (a "simple" request
needs no CORS preflight), and a site whose name it rebinds to 127.0.0.1 can read the answers
too. Bots and curl send neither an ``Origin`` nor a ``Sec-Fetch-Site`` header, browsers
always do on a POST, and trueup's own page writes nothing: so a server without a token takes
no write from a browser, and one on a loopback address answers only a loopback ``Host``.
A secret a client puts in a URL by mistake (``?token=``) is masked in the access log.
"""

import ipaddress
import logging
import re
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from trueup.runners.http_documents import Document

# The query parameters a client may put a secret in by mistake.
SECRET_PARAMETERS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "password", "auth"}
)
_SECRET_VALUE = re.compile(
    r"(?P<keep>[?&](?:" + "|".join(sorted(SECRET_PARAMETERS)) + r")=)[^&#\s]*", re.IGNORECASE
)
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_a_browser(scope: Scope) -> bool:
    """Whether a browser sent the request (the headers it adds to every POST)."""
    return any(name in (b"origin", b"sec-fetch-site") for name, _ in scope["headers"])


class LoopbackHostOnly:
    """ASGI middleware: a request whose ``Host`` names no loopback address is refused (421),
    for a server bound to one (a page of another site rebinding its name to 127.0.0.1)."""

    def __init__(self, inner: ASGIApp, *, bound: str) -> None:
        self.inner = inner
        self.allowed = _LOOPBACK_NAMES | {bound.strip("[]").lower()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((value for name, value in scope["headers"] if name == b"host"), b"")
            if _host_name(host) not in self.allowed:
                shown = host.decode("latin-1")
                answer = Document(
                    {"detail": f"this server answers requests to a loopback host, not {shown!r}"},
                    status_code=421,
                )
                await answer(scope, receive, send)
                return
        await self.inner(scope, receive, send)


@lru_cache(maxsize=256)
def _host_name(host: bytes) -> str:
    """The name a ``Host`` header gives (``[::1]:8780``: ``::1``), lower case; "" if none.
    Cached: every request asks, and a client sends the same few."""
    return (urlsplit("//" + host.decode("latin-1")).hostname or "") if host else ""


def masked_query(path: str) -> str:
    """``path`` with the value of every secret-looking query parameter masked."""
    return _SECRET_VALUE.sub(r"\g<keep>***", path) if "=" in path else path


class SecretsMasked(logging.Filter):
    """uvicorn's access log line (client, method, path, version, status) with the query's
    secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], masked_query(args[2]), *args[3:])
        return True
