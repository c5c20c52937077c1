"""``AsyncClient``: the server's answers for a bot on asyncio."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from trueup.client import documents
from trueup.client.documents import (
    EVENT_STREAM,
    RECONNECTING,
    Backoff,
    CanOpen,
    Event,
    EventPage,
    EventReader,
    InputsReport,
    Intent,
)

log = logging.getLogger("trueup.client")


class AsyncClient:
    """`trueup serve` at ``base_url`` (else TRUEUP_API_URL, else 127.0.0.1:8780); writes
    carry ``token`` (else TRUEUP_API_TOKEN). A stream's read times out after
    ``stream_read_timeout`` s without a byte: the server sends a heartbeat well within it."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        stream_read_timeout: float = 60.0,
        backoff: Backoff = RECONNECTING,
    ) -> None:
        url, headers = documents.settings(base_url, token)
        self._http = httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout)
        self._stream_timeout = httpx.Timeout(timeout, read=stream_read_timeout)
        self.backoff = backoff

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def can_open(
        self,
        venue: str,
        account: str,
        symbol: str,
        side: str | None = None,
        at: int | str | datetime | None = None,
        *,
        timeframe: str | None = None,
    ) -> CanOpen:
        """The server's verdict: ``side`` long or short (Buy, Sell), ``at`` epoch ms, ISO
        8601 or a datetime, with its zone (None: now)."""
        params = documents.can_open_params(
            venue, account, symbol, side=side, at=at, timeframe=timeframe
        )
        return documents.can_open(await self._get("/v1/can-open", params))

    async def positions(
        self,
        venue: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        *,
        format: str | None = None,
    ) -> list[dict[str, Any]]:
        """The reconciled positions (`trueup positions --json`'s rows); ``format="ccxt"``:
        what the exchange holds, in ccxt's unified Position structure."""
        params = documents.positions_params(venue, account, symbol, format)
        rows: list[dict[str, Any]] = (await self._get("/v1/positions", params))["positions"]
        return rows

    async def summary(
        self, venue: str | None = None, account: str | None = None, symbol: str | None = None
    ) -> dict[str, Any]:
        """The portfolio, as `trueup summary --json` prints it."""
        params = documents.positions_params(venue, account, symbol)
        found: dict[str, Any] = await self._get("/v1/summary", params)
        return found

    async def history(
        self,
        venue: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        since: int | str | datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Closed positions, one record per lifecycle (`trueup history --json`'s)."""
        params = documents.history_params(venue, account, symbol, since)
        closed: list[dict[str, Any]] = (await self._get("/v1/history", params))["closed"]
        return closed

    async def send_intents(self, intents: Intent | Iterable[Intent]) -> InputsReport:
        """POST capture lines (the bot's intents, or snapshots), or one alone: stored once
        each however often sent."""
        body = documents.ndjson(intents)
        headers = {"Content-Type": "application/x-ndjson"}
        try:
            response = await self._http.post("/v1/inputs", content=body, headers=headers)
        except httpx.TransportError as error:
            raise documents.unreachable(error) from error
        return documents.inputs_report(documents.answer(response))

    async def command_trigger(
        self, venue: str, account: str, command: str, **fields: Any
    ) -> dict[str, Any]:
        """Command a trigger (add, change, enable, disable, remove, confirm; the fields as
        `trueup trigger` takes them): the trigger's id, and why it was refused, if it was."""
        body = documents.trigger_command(venue, account, command, fields)
        try:
            response = await self._http.post("/v1/triggers", json=body)
        except httpx.TransportError as error:
            raise documents.unreachable(error) from error
        return documents.command_answer(response)

    async def events(
        self,
        after: int = 0,
        *,
        type: str | None = None,
        venue: str | None = None,
        account: str | None = None,
        emitted: bool = False,
        limit: int | None = None,
    ) -> EventPage:
        """One page of stored events after the cursor ``after``."""
        params = documents.events_params(after, type, venue, account, emitted)
        if limit is not None:
            params["limit"] = limit
        return documents.event_page(await self._get("/v1/events", params))

    async def stream(
        self,
        after: int = 0,
        *,
        type: str | None = None,
        venue: str | None = None,
        account: str | None = None,
        emitted: bool = False,
    ) -> AsyncIterator[Event]:
        """Every stored event after ``after``, then each as it is stored, for ever: a
        dropped connection is made again (with a backoff) from the last event's cursor."""
        cursor = after
        wait = self.backoff.first
        while True:
            params = documents.events_params(cursor, type, venue, account, emitted)
            headers = {"Accept": EVENT_STREAM, "Last-Event-ID": str(cursor)}
            try:
                async with self._http.stream(
                    "GET",
                    "/v1/events",
                    params=params,
                    headers=headers,
                    timeout=self._stream_timeout,
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        error = documents.api_error(response)
                        if not documents.retried(response.status_code):
                            raise error
                        log.warning("the event stream: %s; asking again", error)
                    else:
                        wait = self.backoff.first
                        reader = EventReader()
                        async for line in response.aiter_lines():
                            event = reader.line(line)
                            if event is not None:
                                cursor = event.position
                                yield event
            except httpx.TransportError as error:
                log.info("the event stream broke (%s); resuming after %d", error, cursor)
            await asyncio.sleep(wait)
            wait = self.backoff.after(wait)

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = await self._http.get(path, params=params)
        except httpx.TransportError as error:
            raise documents.unreachable(error) from error
        return documents.answer(response)
