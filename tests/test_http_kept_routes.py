"""A GET of can-open or positions whose query string its endpoint has validated once, and
whose answer is kept at the journal's end, is answered ahead of FastAPI; anything else goes
on to it (runners/http_kept.py)."""

import asyncio
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from trueup.runners import http_kept
from trueup.runners.http_kept import KeptAnswers, KeptRoute

BODY = b'{"positions":[],"cursor":7}'


class Behind:
    """The application behind: counts what reaches it."""

    def __init__(self) -> None:
        self.asked: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.asked.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def ask(app: KeptAnswers, path: str, query: bytes, method: str = "GET") -> list[Message]:
    scope = {"type": "http", "method": method, "path": path, "query_string": query}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def served(kept: dict[str, bytes | None]) -> tuple[KeptAnswers, KeptRoute[Any], Behind]:
    route: KeptRoute[Any] = KeptRoute(kept.get, {})
    behind = Behind()
    return KeptAnswers(behind, routes={"/v1/positions": route}), route, behind


def test_a_validated_query_string_with_a_kept_answer_is_answered_ahead_of_fastapi() -> None:
    app, route, behind = served({"main": BODY})
    route.learn(b"account=main", "main")
    start, body = ask(app, "/v1/positions", b"account=main")
    assert behind.asked == []
    assert start["status"] == 200
    assert dict(start["headers"]) == {
        b"content-length": str(len(BODY)).encode(),
        b"content-type": b"application/json",
    }
    assert body["body"] == BODY


def test_an_answer_not_kept_at_the_journal_end_is_read_behind() -> None:
    app, route, behind = served({"main": None})
    route.learn(b"account=main", "main")
    assert ask(app, "/v1/positions", b"account=main")[0]["status"] == 204
    assert len(behind.asked) == 1


def test_a_query_string_never_validated_goes_to_fastapi_even_if_it_asks_the_same() -> None:
    app, route, behind = served({"main": BODY})
    route.learn(b"account=main", "main")
    ask(app, "/v1/positions", b"account=main&venue=bybit")
    ask(app, "/v1/positions", b"account=main", method="HEAD")
    ask(app, "/v1/summary", b"account=main")
    assert len(behind.asked) == 3


def test_endless_query_strings_are_forgotten_past_the_limit(monkeypatch: Any) -> None:
    monkeypatch.setattr(http_kept, "KNOWN_LIMIT", 3)
    route: KeptRoute[str] = KeptRoute(lambda _: BODY, {})
    for number in range(4):
        route.learn(b"n=%d" % number, "main")
    assert list(route.known) == [b"n=3"]
