"""Writes refused before their bodies are read: a POST without the server's token is 401, and
one whose body is over the limit 413, told by its declared length or as it streams in. So
nobody without the token can make the server read, hold or parse a body, and nobody with it
a body larger than the limit (FastAPI reads and validates a route's body before its
dependencies run, the token's check among them)."""

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trueup.runners.http_browsers import from_a_browser
from trueup.runners.http_documents import Document

Authorise = Callable[[HTTPAuthorizationCredentials | None], None]
BROWSER_REFUSED = (
    "a web page may not write to a server started without a token (any site the operator "
    "opens could): set TRUEUP_API_TOKEN, or send the write from a program"
)
ReadBody = Callable[[Request], Awaitable[bytes]]


class WriteGate:
    """ASGI middleware: every POST's token (read by ``bearer``, as the routes read it)
    checked first, then its body read within the limit (``read_body``) and handed on; a
    route in ``streamed`` reads its own body."""

    def __init__(
        self,
        inner: ASGIApp,
        *,
        bearer: HTTPBearer,
        authorise: Authorise,
        read_body: ReadBody,
        streamed: set[str],
        refuses_browsers: bool = False,
    ) -> None:
        self.inner = inner
        self.refuses_browsers = refuses_browsers
        self.bearer = bearer
        self.authorise = authorise
        self.read_body = read_body
        self.streamed = frozenset(streamed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.inner(scope, receive, send)
            return
        request = Request(scope, receive)
        body = None
        try:
            if self.refuses_browsers and from_a_browser(scope):
                raise HTTPException(403, BROWSER_REFUSED)
            self.authorise(await self.bearer(request))
            if scope["path"] not in self.streamed:
                body = await self.read_body(request)
        except HTTPException as refused:
            answer = Document(
                {"detail": refused.detail}, status_code=refused.status_code, headers=refused.headers
            )
            await answer(scope, receive, send)
            return
        await self.inner(scope, receive if body is None else _replaying(body, receive), send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, whole, then what the client sends next
    (its leaving)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
