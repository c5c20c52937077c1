"""GET /v1/can-open and GET /v1/positions answered from kept answers ahead of FastAPI.

A query string its endpoint has once validated is known again by its bytes (what it asks is
a function of them alone), so a request whose answer is kept at the journal's end costs no
routing, query parsing or dependency solving: a few microseconds where FastAPI takes ~100.
Anything else, a first query string, or an answer not kept at the end read just now, goes
on to FastAPI as before.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

Q = TypeVar("Q")

# Distinct query strings known per endpoint; past this many the known ones are forgotten, so
# that a client sending endless variants cannot grow the server.
KNOWN_LIMIT = 10_000
JSON_HEADER = (b"content-type", b"application/json")


@dataclass
class KeptRoute(Generic[Q]):
    """One endpoint's validated queries by query string, and its kept answer to one (the
    body, None when it is not kept at the journal's end)."""

    answer: Callable[[Q], bytes | None]
    known: dict[bytes, Q]

    def learn(self, query_string: bytes, query: Q) -> None:
        """``query_string`` validated as ``query`` by the endpoint."""
        if len(self.known) >= KNOWN_LIMIT:
            self.known.clear()
        self.known[query_string] = query

    def kept(self, query_string: bytes) -> bytes | None:
        query = self.known.get(query_string)
        return None if query is None else self.answer(query)


class KeptAnswers:
    """ASGI middleware: a GET on a kept route whose answer is kept is sent from here."""

    def __init__(self, inner: ASGIApp, *, routes: dict[str, KeptRoute[Any]]) -> None:
        self.inner = inner
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        body = None
        if route is not None and scope["method"] == "GET":
            body = route.kept(scope["query_string"])
        if body is None:
            await self.inner(scope, receive, send)
            return
        # The headers Starlette's Response gives the same body.
        headers = [(b"content-length", b"%d" % len(body)), JSON_HEADER]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
