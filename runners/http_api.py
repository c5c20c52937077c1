"""``trueup serve``: the HTTP API over the journal, as thin as the command line.

Each endpoint parses its query, asks TrueupService, and answers the document the CLI prints
with --json: decimals as strings, instants as epoch ms (with ISO 8601 beside where the CLI
shows one). docs/http-api.md describes every endpoint; /openapi.json is generated from here.
"""

import asyncio
import hmac
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.notify.target import Target
from trueup.adapters.store.codec import event_json
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.location import StoreError
from trueup.adapters.store.readers import ReaderPool
from trueup.application.answer_cache import AnswerCache
from trueup.application.answers import (
    JSON,
    AccountFreshness,
    EventPage,
)
from trueup.application.backlog import BacklogLimits
from trueup.application.can_open import CanOpenFacts
from trueup.application.following import Following
from trueup.application.position_audit import SeveralLegs, no_position
from trueup.application.service import EventFilter, TrueupService
from trueup.domain.emitted import EMITTED_TYPES
from trueup.domain.events import InputEvent, InputRejected, StreamReconnected
from trueup.domain.instants import iso
from trueup.domain.vocabulary import PositionSide
from trueup.projections.partitions import partitions_of
from trueup.runners import output
from trueup.runners.arguments import OPENING_SIDES
from trueup.runners.http_browsers import SECRET_PARAMETERS, LoopbackHostOnly, is_loopback
from trueup.runners.http_documents import (
    AcknowledgedDocument,
    CanOpenDocument,
    Document,
    EmittedDocument,
    EventsDocument,
    HealthDocument,
    HistoryDocument,
    Ingested,
    InputsDocument,
    NotifyTestDocument,
    PositionsDocument,
    Problem,
    SummaryDocument,
    TriggerCommandDocument,
    TriggersDocument,
    rendered,
)
from trueup.runners.http_forwarding import FORWARDED_HEADER, Forwarder
from trueup.runners.http_kept import KNOWN_LIMIT, KeptAnswers, KeptRoute
from trueup.runners.http_metrics import ApiMetrics
from trueup.runners.http_page import add_page
from trueup.runners.http_projection import Lag, ServedProjection
from trueup.runners.http_queries import (
    AcknowledgeQuery,
    AuditQuery,
    CanOpenQuery,
    CanOpenQuestion,
    EmittedQuery,
    EventsQuery,
    HistoryQuery,
    InputsQuery,
    NotifyTestQuery,
    PositionsQuery,
    PositionsQuestion,
    SummaryQuery,
    TriggerCommandBody,
    TriggersQuery,
)
from trueup.runners.http_siblings import Siblings
from trueup.runners.http_stream import (
    BACKLOG_PAGE,
    MEDIA_TYPE,
    EventStream,
    FollowerWatch,
    JournalFollower,
    StreamSettings,
)
from trueup.runners.http_write_gate import WriteGate

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_PROJECTION_LAG_MS = 5_000
DEFAULT_READERS = 4
# How often a POST whose inputs another process detects asks whether it has.
DETECTION_POLL_S = 0.01
# The one Content-Encoding a POST may have: the body as it is.
IDENTITY = "identity"

# The stored events the metrics count, whoever stored them (ApiMetrics.count_stored).
COUNTED = (*(t.type for t in EMITTED_TYPES), StreamReconnected.type)


@dataclass(frozen=True)
class ApiSettings:
    """What a server is told at start: the write token (None: no token), the body limit,
    how its event streams run, and the projection lag past which it is unhealthy."""

    # Kept out of repr: a token must never reach a log line or a traceback's locals.
    token: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    stream: StreamSettings = field(default_factory=StreamSettings)
    max_projection_lag_ms: int = DEFAULT_MAX_PROJECTION_LAG_MS
    # False: another process on the journal runs the projection (the demo, trueup run).
    run_projection: bool = True
    # Journals the reads go through at once (each a connection, or a pool of them).
    readers: int = DEFAULT_READERS
    # What POST /v1/notify/test sends to (serve --notify-config); their secrets out of repr.
    notify_targets: tuple[Target, ...] = field(default=(), repr=False)
    # Whether this process counts the emitted events and reconnects stored (by anyone): with
    # --workers, one of them does, or the summed /metrics would count each N times.
    counts_stored: bool = True
    # With --workers: the directory the serving processes meet in (runners/http_siblings.py).
    siblings: str | None = None
    # How much a notifier may leave untold before /health is 503 (serve --max-dead-letters,
    # --dead-letter-window-ms, --max-undelivered-ms).
    notifier_limits: BacklogLimits = field(default_factory=BacklogLimits)
    # The accounts whose exchange view /health judges (serve --follow, --quiet-after-ms).
    following: Following = field(default_factory=Following)
    # One line a request (path and status, never a header); off, a busy server saves the
    # formatting and the write of each (serve --no-access-log).
    access_log: bool = True
    # The address served on (serve --host): on a loopback one, only a loopback Host is
    # answered (http_browsers.py). None: not told (an app made by a test).
    host: str | None = None


class TrueupApi:
    """The endpoints over one journal. Reads go through a pool of readers, each serving one
    thread at a time; writes and the projection share ``journal`` itself, one at a time
    (``lock``). Can-open's facts and the positions documents are kept while the journal's
    end does not move (application/answer_cache.py)."""

    def __init__(self, journal: Journal, settings: ApiSettings, clock: Clock = wall_clock) -> None:
        self.writer = TrueupService(journal, clock)
        self.readers = ReaderPool(journal, settings.readers)
        self.settings = settings
        self.clock = clock
        self.lock = threading.Lock()
        self.metrics = ApiMetrics(self._freshness_or_none)
        self.siblings = (
            None if settings.siblings is None else Siblings(settings.siblings, os.getpid())
        )
        self.forwarder = Forwarder(os.getpid())
        self.projection = ServedProjection(
            journal,
            self.lock,
            clock=clock,
            detected=lambda type_, s: self.metrics.detection.labels(type_).observe(s),
            measured=self.metrics.measured,
            siblings=self.siblings,
            runs=settings.run_projection,
        )
        watch = FollowerWatch(
            stored=self.metrics.count_stored if settings.counts_stored else lambda _: None,
            streams=self.metrics.streams.set,
            dropped=self.metrics.streams_dropped.inc,
        )
        self.follower = JournalFollower(
            self._journal_end,
            self._new_events,
            settings.stream,
            counted=self._counted_events if settings.counts_stored else None,
            watch=watch,
        )
        # The end read on the event loop itself, where that costs a local read (SQLite).
        self.end_reader = journal.end_reader()
        self.can_open_facts: AnswerCache[CanOpenQuestion, CanOpenFacts] = AnswerCache(
            tally=self.metrics.tally("can-open")
        )
        self.positions_documents: AnswerCache[PositionsQuestion, bytes] = AnswerCache(
            tally=self.metrics.tally("positions")
        )
        # The queries the two endpoints have validated, by query string, answered from what
        # is kept ahead of FastAPI (runners/http_kept.py).
        self.positions_route: KeptRoute[PositionsQuery] = KeptRoute(self.kept_positions, {})
        self.can_open_route: KeptRoute[CanOpenQuery] = KeptRoute(self.kept_can_open, {})

    @contextmanager
    def _reading(self) -> Iterator[TrueupService]:
        """The use cases over a reader of this thread's own, until the block ends."""
        with self.readers.reading() as journal:
            yield TrueupService(journal, self.clock)

    async def start(self) -> None:
        """Run the projection while this server holds its leases, and follow the journal."""
        self.projection.start()  # under --no-projection, to measure the others' lag
        self.follower.start()

    async def stop(self) -> None:
        """End the event streams, stop following, let the leases go."""
        await self.follower.stop()
        await self.forwarder.close()
        await asyncio.to_thread(self.projection.stop)
        self.readers.close()

    def _freshness_or_none(self) -> list[AccountFreshness]:
        try:
            return self._freshness()
        except StoreError:
            return []  # /health says why; a scrape still shows the request metrics

    def kept_positions(self, query: PositionsQuery) -> bytes | None:
        """The positions document kept at the journal's end, answered on the event loop
        where the end is that cheap to read; None: ask ``positions`` (in a thread)."""
        end = self._local_end()
        if end is None:
            return None
        return self.positions_documents.kept(end, _positions_question(query))

    def positions(self, query: PositionsQuery) -> Response:
        where = {"venue": query.venue, "account": query.account, "symbol": query.symbol}
        question = _positions_question(query)
        with self._reading() as service:
            cursor = service.journal.last_position()  # first: nothing after it is missed

            def read() -> bytes:
                if query.format == "ccxt":
                    rows = service.ccxt_positions(**where)
                else:
                    rows = service.positions(**where)
                return rendered({"positions": rows, "cursor": cursor})

            body = self.positions_documents.answer(cursor, question, read)
        return Response(body, media_type=Document.media_type)

    def summary(self, query: SummaryQuery) -> Document:
        with self._reading() as service:
            found = service.summary(venue=query.venue, account=query.account, symbol=query.symbol)
        return Document(found.as_json())

    def history(self, query: HistoryQuery) -> Document:
        with self._reading() as service:
            closed = service.history(
                venue=query.venue,
                account=query.account,
                symbol=query.symbol,
                since=query.since or 0,
            )
        return Document({"closed": [output.closed_json(record) for record in closed]})

    def triggers(self, query: TriggersQuery) -> Document:
        with self._reading() as service:
            rows = service.triggers(venue=query.venue, account=query.account)
        return Document({"triggers": rows})

    def command_trigger(self, body: TriggerCommandBody) -> Document:
        data = body.model_dump(exclude={"venue", "account", "at"}, exclude_none=True)
        if body.command == "change" and "expires_at" in body.model_fields_set:
            data.setdefault("expires_at", None)  # named as null: the expiry taken off
        if body.command not in ("add", "change"):
            data.pop("auto_execute", None)
        with self.lock:
            report = self.writer.command_trigger(body.venue, body.account, data, at=body.at)
        return Document(report.as_json(), status_code=409 if report.refused else 200)

    def emitted(self, query: EmittedQuery) -> Document:
        with self._reading() as service:
            try:
                said = service.emitted_about(
                    query.venue, query.account, query.symbol, query.position_idx, as_of=query.as_of
                )
            except SeveralLegs as several:
                _refuse_field("position_idx", query.position_idx, str(several))
        events = [event_json(*stored) | {"at_iso": iso(stored[1].at)} for stored in said]
        return Document({"events": events})

    def kept_can_open(self, query: CanOpenQuery) -> bytes | None:
        """The verdict on can-open's facts kept at the journal's end, judged on the event
        loop where the end is that cheap to read; None: ask ``can_open`` (in a thread)."""
        end = self._local_end()
        if end is None:
            return None
        facts = self.can_open_facts.kept(end, _can_open_question(query))
        if facts is None:
            return None
        # No I/O: the clock, and what the journals have found they cannot read.
        answer = self.writer.judge_can_open(
            facts, side=_side(query), timeframe=query.timeframe, at=query.at
        )
        return rendered(answer.as_document())

    def _local_end(self) -> int | None:
        """The journal's end, if it can be read without waiting on anything (SQLite)."""
        return None if self.end_reader is None else self.end_reader()

    def can_open(self, query: CanOpenQuery) -> Document:
        side = _side(query)
        question = _can_open_question(query)
        with self._reading() as service:
            end = service.journal.last_position()
            facts = self.can_open_facts.answer(
                end,
                question,
                lambda: service.can_open_facts(
                    query.venue, query.account, query.symbol, at=query.at
                ),
            )
            # Judged now, whether the facts were kept or not: a view fresh a moment ago may
            # be stale by now, and a yes must not outlive it.
            answer = service.judge_can_open(
                facts, side=side, timeframe=query.timeframe, at=query.at
            )
        return Document(answer.as_document())

    def audit(self, query: AuditQuery) -> Document:
        with self._reading() as service:
            result = service.audit(
                query.venue,
                query.account,
                query.symbol,
                position_idx=query.position_idx,
                as_of=query.as_of,
            )
        if not result.keys:
            raise HTTPException(404, no_position(query.venue, query.account, result))
        if len(result.keys) > 1:
            legs = SeveralLegs(query.symbol, (k.position_idx for k in result.keys))
            _refuse_field("position_idx", query.position_idx, str(legs))
        return Document(output.audit_json(result))

    def events(self, query: EventsQuery, accept: str, last_event_id: int | None) -> Response:
        # A reconnecting stream's Last-Event-ID is its cursor, whatever its URL still says.
        if last_event_id is not None:
            query = query.model_copy(update={"after": last_event_id})
        if MEDIA_TYPE in accept:
            self._refuse_past_the_end(query.after)
            wanted = EventFilter(query.type, query.venue, query.account, query.emitted)
            return EventStream(self.follower, wanted, query.after, self._backlog(wanted))
        with self._reading() as service:
            page = service.events_after(
                query.after,
                type_=query.type,
                emitted_only=query.emitted,
                venue=query.venue,
                account=query.account,
                limit=query.limit,
            )
        if not page.events and page.next_after == query.after:
            self._refuse_past_the_end(query.after)
        events = [
            event_json(position, event) | {"at_iso": iso(event.at)}
            for position, event in page.events
        ]
        return Document({"events": events, "next_after": page.next_after})

    def _backlog(self, wanted: EventFilter) -> Callable[[int], Awaitable[EventPage]]:
        """What a stream reads from the journal before it joins the follower."""

        def read(after: int) -> EventPage:
            with self._reading() as service:
                return service.events_after(
                    after,
                    type_=wanted.type_,
                    venue=wanted.venue,
                    account=wanted.account,
                    emitted_only=wanted.emitted_only,
                    limit=BACKLOG_PAGE,
                )

        return lambda after: asyncio.to_thread(read, after)

    def _refuse_past_the_end(self, after: int) -> None:
        """422 for a cursor past the journal's end: read from it, a bot would wait for ever
        for events stored below it (a cursor of another journal, or of one restored)."""
        end = self._journal_end()
        if after > end:
            raise HTTPException(
                422,
                f"after={after} is past the journal's end ({end}): a cursor of another "
                f"journal, or of this one before it was restored? Read on from after={end}, "
                "or from 0",
            )

    def _journal_end(self) -> int:
        with self.readers.reading() as journal:
            return journal.last_position()

    def _new_events(self, after: int, limit: int) -> EventPage:
        with self._reading() as service:
            return service.events_after(after, limit=limit)

    def _counted_events(self, after: int, limit: int) -> EventPage:
        """What the metrics count of the stored events (COUNTED), read by their topics."""
        with self.readers.reading() as journal:
            return EventPage(*journal.stored_of_types(COUNTED, after, limit))

    def health(self) -> Document:
        lag = self.projection.lag
        projection = self._projection_health(lag)
        reasons = self._projection_reasons(lag)
        try:
            accounts = self._freshness()
        except StoreError as error:
            return Document(
                {
                    "healthy": False,
                    "reasons": [f"the journal: {error}", *reasons],
                    "accounts": [],
                    "projection": projection,
                    "process": os.getpid(),
                    "loops": [],
                },
                status_code=503,
            )
        now = self.clock()
        with self._reading() as service:
            loops = service.loop_statuses()
        reasons = [
            f"{account.venue}/{account.account}: {reason}"
            for account in accounts
            if account.followed
            for reason in account.stale_reasons
        ] + reasons
        reasons += [problem for loop in loops if (problem := loop.problem(now)) is not None]
        limits = self.settings.notifier_limits
        reasons += [problem for loop in loops for problem in loop.backlog_problems(now, limits)]
        document = {
            "healthy": not reasons,
            "reasons": reasons,
            "accounts": [_account_health(account, now) for account in accounts],
            "projection": projection,
            "process": os.getpid(),
            "loops": [loop.as_document(now, limits) for loop in loops],
        }
        return Document(document, status_code=503 if reasons else 200)

    def _projection_reasons(self, lag: Lag) -> list[str]:
        limit = self.settings.max_projection_lag_ms
        reasons = []
        if lag.ms > limit:
            reasons.append(
                f"the projection is {lag.inputs} input(s) behind the journal's end, the "
                f"oldest waiting {lag.ms} ms; answers need it within {limit} ms"
            )
        if lag.lost:
            at = min(lag.lost.values())
            reasons.append(
                f"this server lost the projection's lease of partition(s) "
                f"{', '.join(map(str, sorted(lag.lost)))} at {iso(at)}: another process "
                "may run them"
            )
        return reasons

    def _projection_health(self, lag: Lag) -> JSON:
        held = list(self.projection.leased.held)
        others = self.siblings.others() if self.siblings is not None else []
        return {
            "runs_here": bool(held),
            "partitions_held": held,
            "siblings": {str(s.pid): sorted(s.held) for s in sorted(others, key=lambda s: s.pid)},
            "inputs_behind": lag.inputs,
            "lag_ms": lag.ms,
            "limit_ms": self.settings.max_projection_lag_ms,
            "leases_lost": {str(n): at for n, at in sorted(lag.lost.items())},
        }

    def _freshness(self) -> list[AccountFreshness]:
        with self._reading() as service:
            return service.exchange_freshness(following=self.settings.following)

    def metrics_text(self) -> Response:
        return Response(self.metrics.text(), media_type=CONTENT_TYPE_LATEST)

    async def inputs(self, request: Request) -> Response:
        received = time.monotonic()
        body = await self.read_body(request)
        sibling = self._running_all(request)
        if sibling is not None:
            answer = await self.forwarder.forward(sibling, body, request.headers)
            if answer is not None:
                return answer
        lines = capture_lines(body)
        taken: list[InputEvent] = []
        ingested = await run_in_threadpool(self._ingest, lines, taken, received)
        report = ingested.report
        for event in taken:
            self.metrics.count_input(event)
        self.metrics.duplicates.inc(report.duplicates)
        emitted, detected = report.emitted, self.settings.run_projection
        if detected and ingested.elsewhere:
            emitted, detected = await self._detected_elsewhere(taken, ingested)
        return Document(
            {
                "accepted": report.accepted,
                "rejected": report.rejected,
                "duplicates": report.duplicates,
                "blank": report.blank,
                "emitted": emitted,
                "detected": detected,
                "inputs": [_input_line(event) for event in taken],
            }
        )

    def _running_all(self, request: Request) -> str | None:
        """The socket of the sibling serving process that runs every partition, when this
        one runs none of them and the POST came from a client, not from a sibling: the
        POST goes to it (runners/http_forwarding.py says why)."""
        if (
            self.siblings is None
            or not self.settings.run_projection
            or FORWARDED_HEADER in request.headers
            or self.siblings.said != frozenset()  # it runs some, or has not said yet
        ):
            return None
        sibling = self.siblings.running_all()
        return None if sibling is None else sibling.socket_path

    def _ingest(self, lines: list[bytes], taken: list[InputEvent], received: float) -> Ingested:
        """Append ``lines`` (each decoded input put in ``taken``), detecting what this
        process runs the partitions of."""
        with self.lock:
            before = self.writer.journal.last_position()
            if not self.settings.run_projection:  # the process that runs it detects
                report = self.writer.ingest([lines], detect=False, on_input=taken.append)
                return Ingested(report, before, self.writer.journal.last_position(), set())
            arrivals = self.projection.arrivals
            arrivals.saw(before, time.monotonic())
            # The server's own projection detects, as the lines go in, the partitions whose
            # leases it holds.
            with arrivals.receiving(received):
                report = self.writer.ingest(
                    [lines], on_input=taken.append, projection=self.projection.leased
                )
            # The partitions of these inputs that another process runs (--workers, say).
            wanted = {n for event in taken for n in partitions_of(event)}
            elsewhere = wanted - set(self.projection.leased.held)
            return Ingested(report, before, self.writer.journal.last_position(), elsewhere)

    async def _detected_elsewhere(
        self, taken: list[InputEvent], ingested: Ingested
    ) -> tuple[dict[str, int], bool]:
        """What was emitted for ``taken``, by whichever process runs their partitions, once
        it has processed them (polled; it polls the journal itself): what was found by
        then, and False, if that takes longer than the projection may lag."""
        causes = {event.input_id for event in taken}
        deadline = time.monotonic() + self.settings.max_projection_lag_ms / 1000
        behind = sorted(ingested.elsewhere)
        # Up to its last input, not the journal's end: the markers stored after it are
        # recorded as processed only with the next inputs, or a second later when none come.
        upto = ingested.report.last_stored or ingested.after

        def processed() -> bool:
            nonlocal behind
            with self._reading() as service:
                behind = service.behind(behind, upto)
            return not behind

        def emitted() -> dict[str, int]:
            with self._reading() as service:
                return service.emitted_for(causes, ingested.before)

        # Only how far it has got is asked while waiting: what it emitted is read once.
        while True:
            done = await run_in_threadpool(processed)
            if done or time.monotonic() > deadline:
                return await run_in_threadpool(emitted), done
            await asyncio.sleep(DETECTION_POLL_S)

    async def read_body(self, request: Request) -> bytes:
        """The body, refused (413) as soon as it is known to pass the limit: by its declared
        length before a byte is read, else by counting while it streams in. One encoded
        (gzip, say) is refused (415) unread: stored as it came, it would be a rejected line."""
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", IDENTITY):
            raise HTTPException(
                415,
                f"Content-Encoding {encoding} is not taken: send the body unencoded (identity)",
                headers={"Accept-Encoding": IDENTITY},
            )
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
        except ClientDisconnect:
            # Gone before its body was whole: none of it is stored, and nobody hears why.
            raise HTTPException(400, "the client left before its body was whole") from None
        return b"".join(chunks)

    def notify_test(self, query: NotifyTestQuery) -> Document:
        targets = [t for t in self.settings.notify_targets if query.target in (None, t.name)]
        if not targets:
            raise HTTPException(
                404,
                f"no notification target {query.target!r}"
                if self.settings.notify_targets
                else "no notification targets: serve --notify-config FILE names them",
            )
        results = self.writer.test_notifications(targets)
        return Document(
            {
                "delivered": all(r.delivered for r in results),
                "results": [r.as_json() for r in results],
            }
        )

    def acknowledge(self, query: AcknowledgeQuery) -> Document:
        with self.lock:
            done = self.writer.acknowledge_dead_letters(
                query.notifier, query.operator, query.reason
            )
        if done is None:
            raise HTTPException(404, f"no notifier named {query.notifier!r} has run")
        return Document(done.as_json())

    def authorise(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        """Let a write through only with the server's token, compared in constant time."""
        token = self.settings.token
        if token is None:
            return  # a loopback-only server started without one: see check_exposure
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401,
                "a bearer token is required: Authorization: Bearer $TRUEUP_API_TOKEN"
                if credentials is None
                else "the bearer token given is not this server's ($TRUEUP_API_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )


def capture_lines(body: bytes) -> list[bytes]:
    """A POSTed body as capture lines: a JSON array's elements, one JSON value pretty-printed
    over several lines, else NDJSON, one line each, bad ones included: the ingest path
    stores each bad line as a rejected input with its reason."""
    stripped = body.strip()
    try:
        parsed = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return _file_lines(body)
    if isinstance(parsed, list):
        # Re-encoded: a number a double cannot carry keeps its exact spelling only in NDJSON.
        return [orjson.dumps(element) for element in parsed]
    if b"\n" not in stripped:
        return _file_lines(body)  # one line, kept byte for byte
    return [orjson.dumps(parsed)]


def _file_lines(body: bytes) -> list[bytes]:
    """NDJSON split as `trueup ingest` reads a file, so that the ingest path counts the
    same blank lines: every one, around the others too; a final newline ends the last
    line rather than beginning a blank one."""
    lines = body.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def create_app(journal: Journal, settings: ApiSettings, clock: Clock = wall_clock) -> FastAPI:
    """The ASGI application over ``journal``."""
    api = TrueupApi(journal, settings, clock)

    @asynccontextmanager
    async def running(_: FastAPI) -> AsyncIterator[None]:
        await api.start()
        try:
            yield
        finally:
            await api.stop()

    app = FastAPI(
        lifespan=running,
        title="trueup",
        summary="Reconciled positions, can-open verdicts, audits and stored events over HTTP.",
        version="1",
        responses={422: {"description": "an unknown query parameter or a malformed value"}},
        # Their pages load Swagger UI and ReDoc from a CDN, and nothing of trueup reaches
        # the internet: /openapi.json is served, for a viewer of one's own.
        docs_url=None,
        redoc_url=None,
    )
    bearer = HTTPBearer(auto_error=False, description="TRUEUP_API_TOKEN")

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        api.authorise(credentials)

    app.state.api = api  # for the server, which ends the event streams when it stops
    # Inside RequestTiming (added after it is outer): kept answers are timed too.
    app.add_middleware(
        KeptAnswers,
        routes={"/v1/positions": api.positions_route, "/v1/can-open": api.can_open_route},
    )
    _guard(app, api, bearer)
    app.add_middleware(RequestTiming, app=app, api=api)

    @app.exception_handler(StoreError)
    async def journal_unreachable(_: Request, error: StoreError) -> Response:
        return Document({"detail": f"the journal cannot be reached: {error}"}, status_code=503)

    @app.get("/v1/positions", response_model=None, responses={200: {"model": PositionsDocument}})
    async def positions(query: Annotated[PositionsQuery, Query()], request: Request) -> Response:
        """The reconciled positions, local beside exchange, with open findings."""
        api.positions_route.learn(request.scope["query_string"], query)
        kept = api.kept_positions(query)
        if kept is not None:
            return Response(kept, media_type=Document.media_type)
        return await run_in_threadpool(api.positions, query)

    @app.get("/v1/summary", response_model=None, responses={200: {"model": SummaryDocument}})
    def summary(query: Annotated[SummaryQuery, Query()]) -> Document:
        """The portfolio: positions, PnL, equity and margin per account, distribution by
        venue and symbol, and the risk figures, as `trueup summary --json`."""
        return api.summary(query)

    @app.get("/v1/history", response_model=None, responses={200: {"model": HistoryDocument}})
    def history(query: Annotated[HistoryQuery, Query()]) -> Document:
        """Closed positions, one record per lifecycle, oldest close first."""
        return api.history(query)

    @app.get("/v1/can-open", response_model=None, responses={200: {"model": CanOpenDocument}})
    async def can_open(query: Annotated[CanOpenQuery, Query()], request: Request) -> Response:
        """May the trading system open the symbol now? 200 either way, every reason against."""
        api.can_open_route.learn(request.scope["query_string"], query)
        kept = api.kept_can_open(query)
        if kept is not None:
            return Response(kept, media_type=Document.media_type)
        return await run_in_threadpool(api.can_open, query)

    @app.get(
        "/v1/audit",
        response_model=None,
        responses={
            200: {"description": "as `trueup audit --json`"},
            404: {"model": Problem, "description": "no such position in the journal"},
        },
    )
    def audit(query: Annotated[AuditQuery, Query()]) -> Document:
        """How one position came to be what it is: its state and every input that changed it."""
        return api.audit(query)

    @app.get("/v1/triggers", response_model=None, responses={200: {"model": TriggersDocument}})
    def triggers(query: Annotated[TriggersQuery, Query()]) -> Document:
        """Each trigger's configuration and state (commands go in as `trigger` lines through
        POST /v1/inputs, with the token)."""
        return api.triggers(query)

    @app.post(
        "/v1/triggers",
        response_model=None,
        dependencies=[Depends(authorised)],
        responses={
            200: {"model": TriggerCommandDocument},
            400: {"model": Problem, "description": "the body is not JSON"},
            401: {"model": Problem, "description": "no bearer token, or a wrong one"},
            409: {
                "model": TriggerCommandDocument,
                "description": "refused, and why (the command is recorded all the same, "
                "unless it could never fire)",
            },
        },
    )
    def command_trigger(body: TriggerCommandBody) -> Document:
        """Command a trigger (add, change, enable, disable, remove, confirm) as `trueup
        trigger` does: recorded as an input, judged as the projection will judge it."""
        return api.command_trigger(body)

    @app.get("/v1/emitted", response_model=None, responses={200: {"model": EmittedDocument}})
    def emitted(query: Annotated[EmittedQuery, Query()]) -> Document:
        """What trueup said about one position (its emitted events), in order."""
        return api.emitted(query)

    @app.get(
        "/v1/events",
        response_model=None,
        responses={
            200: {
                "model": EventsDocument,
                "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
                "description": "the page; with Accept: text/event-stream, the live stream",
            }
        },
    )
    def events(
        query: Annotated[EventsQuery, Query()],
        request: Request,
        last_event_id: Annotated[
            int | None,
            Header(
                alias="Last-Event-ID",
                ge=0,
                le=2**63 - 1,
                description="a stream's cursor on reconnecting: takes the place of `after`",
            ),
            # Absent or a position: never the JSON null a header cannot carry.
            WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**63 - 1}),
        ] = None,
    ) -> Response:
        """Stored events after a cursor (a journal position), and the cursor to ask from next;
        or, with Accept: text/event-stream, those and each new one as it is stored (SSE)."""
        return api.events(query, request.headers.get("accept", ""), last_event_id)

    @app.post(
        "/v1/inputs",
        response_model=None,
        dependencies=[Depends(authorised)],
        openapi_extra={"requestBody": _INPUTS_BODY},
        responses={
            200: {"model": InputsDocument},
            401: {"model": Problem, "description": "no bearer token, or a wrong one"},
            413: {"model": Problem, "description": "the body is over the server's limit"},
            415: {"model": Problem, "description": "a Content-Encoding other than identity"},
        },
    )
    async def inputs(_: Annotated[InputsQuery, Query()], request: Request) -> Response:
        """Append capture lines through the path `trueup ingest` takes, idempotently."""
        return await api.inputs(request)

    _notification_routes(app, api, authorised)

    @app.get(
        "/health",
        response_model=None,
        responses={
            200: {"model": HealthDocument},
            503: {"model": HealthDocument, "description": "unhealthy, and why"},
        },
    )
    def health() -> Document:
        """Healthy while the journal is reachable and every followed account's exchange
        view is fresh."""
        return api.health()

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
    )
    def metrics() -> Response:
        """Prometheus' text format."""
        return api.metrics_text()

    add_page(app)
    return app


_INPUTS_BODY: dict[str, Any] = {
    "required": True,
    "description": "capture lines (docs/capture-format.md): one JSON object, a JSON array of "
    "them, or NDJSON",
    "content": {
        "application/json": {"schema": {"anyOf": [{"type": "object"}, {"type": "array"}]}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


def _notification_routes(app: FastAPI, api: TrueupApi, authorised: Callable[..., None]) -> None:
    """The notification endpoints: a test to the targets, and acknowledging dead letters."""

    @app.post(
        "/v1/notify/test",
        response_model=None,
        dependencies=[Depends(authorised)],
        responses={
            200: {"model": NotifyTestDocument},
            401: {"model": Problem, "description": "no bearer token, or a wrong one"},
            404: {
                "model": Problem,
                "description": "no such target, or none configured (serve --notify-config)",
            },
        },
    )
    def notify_test(query: Annotated[NotifyTestQuery, Query()]) -> Document:
        """Send a test notification to each notification target (or the one named), as
        `trueup notify test` does; 200 whatever came of it, each target's result inside."""
        return api.notify_test(query)

    @app.post(
        "/v1/notify/acknowledge",
        response_model=None,
        dependencies=[Depends(authorised)],
        responses={
            200: {"model": AcknowledgedDocument},
            401: {"model": Problem, "description": "no bearer token, or a wrong one"},
            404: {"model": Problem, "description": "no notifier of that name has run"},
        },
    )
    def acknowledge(query: Annotated[AcknowledgeQuery, Query()]) -> Document:
        """Acknowledge a notifier's dead letters until now, as `trueup notify ack` does:
        /health counts only later ones."""
        return api.acknowledge(query)


class RequestTiming:
    """Times each request to its answer's start (a stream's first byte, not its end).

    Plain ASGI rather than FastAPI's http middleware: that one relays a streamed body
    through a buffer of its own, where a client that stops reading would hold it for ever.
    """

    def __init__(self, inner: ASGIApp, *, app: FastAPI, api: TrueupApi) -> None:
        self.inner = inner
        self.app = app
        self.api = api
        # Each path and method's route, found once (matching every route costs more than
        # answering a kept answer).
        self.routes: dict[tuple[str, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A POST a sibling forwarded is timed where its client sent it, once.
        if scope["type"] != "http" or _FORWARDED in dict(scope["headers"]):
            await self.inner(scope, receive, send)
            return
        asked = (scope["path"], scope["method"])
        endpoint = self.routes.get(asked)
        if endpoint is None:
            endpoint = _route(self.app, scope)
            if len(self.routes) >= KNOWN_LIMIT:
                self.routes.clear()  # a client asking endless paths cannot grow the server
            self.routes[asked] = endpoint
        started = time.perf_counter()
        timed = False

        def observe() -> None:
            nonlocal timed
            if not timed:
                timed = True
                elapsed = time.perf_counter() - started
                self.api.metrics.latency.labels(endpoint, scope["method"]).observe(elapsed)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe()
            await send(message)

        try:
            await self.inner(scope, receive, timed_send)
        finally:
            observe()


_FORWARDED = FORWARDED_HEADER.encode()


def _route(app: FastAPI, scope: Scope) -> str:
    """The route's path, not the URL's: one series per endpoint, whatever is asked."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "other"


def _side(query: CanOpenQuery) -> PositionSide | None:
    return OPENING_SIDES[query.side.lower()] if query.side else None


def _can_open_question(query: CanOpenQuery) -> CanOpenQuestion:
    return (query.venue, query.account, query.symbol, query.at)


def _positions_question(query: PositionsQuery) -> PositionsQuestion:
    return (query.venue, query.account, query.symbol, query.format)


def _refuse_field(field: str, value: object, message: str) -> None:
    raise RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": message, "input": value}]
    )


ECHOED_BYTES = 256  # a value a 422 quotes back, at most (as JSON)


def _guard(app: FastAPI, api: TrueupApi, bearer: HTTPBearer) -> None:
    """Every POST's token checked (and, with none, a browser's refused) and its body's size
    bounded before it is read (http_write_gate.py); POST /v1/inputs counts its own as it
    streams in. Served on a loopback address, only a loopback Host is answered."""
    app.add_middleware(
        WriteGate,
        bearer=bearer,
        authorise=api.authorise,
        read_body=api.read_body,
        streamed={"/v1/inputs"},
        refuses_browsers=api.settings.token is None,
    )
    host = api.settings.host
    if host is not None and is_loopback(host):
        app.add_middleware(LoopbackHostOnly, bound=host)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]


async def _invalid(_: Request, error: RequestValidationError) -> Response:
    """422 naming each field and why, as FastAPI's, but a long value given not echoed back
    (a body's field of megabytes would come back whole)."""
    return Document({"detail": [_unechoed(e) for e in error.errors()]}, status_code=422)


def _unechoed(error: Any) -> Any:
    """A validation error as FastAPI gives it, its ``input`` not echoed if it is long."""
    error = jsonable_encoder(error)
    where = error.get("loc") or ("",)
    if where[0] == "query" and str(where[-1]).lower() in SECRET_PARAMETERS:
        error.pop("input", None)  # a token put in the URL by mistake
    if "input" in error:
        try:
            size = len(orjson.dumps(error["input"]))
        except orjson.JSONEncodeError:  # a lone surrogate (\ud800): JSON's text cannot hold it
            error["input"] = "(not valid Unicode, not echoed)"
            return error
        if size > ECHOED_BYTES:
            error["input"] = f"({size} bytes, not echoed)"
    return error


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the body is over {limit} bytes: send it in parts")


def _input_line(event: InputEvent) -> JSON:
    rejected = isinstance(event, InputRejected)
    return {
        "input_id": event.input_id,
        "type": event.type,
        "accepted": not rejected,
        "reason": event.reason if isinstance(event, InputRejected) else None,
    }


def _account_health(account: AccountFreshness, now: int) -> JSON:
    taken = account.complete_snapshot_at
    fired = account.last_trigger_fired_at
    return {
        "last_trigger_fired_at": fired,
        "since_last_trigger_ms": None if fired is None else now - fired,
        "venue": account.venue,
        "account": account.account,
        "complete_snapshot_at": taken,
        "complete_snapshot_iso": None if taken is None else iso(taken),
        "age_ms": account.age_ms,
        "limit_ms": account.limit_ms,
        "fresh": not account.stale_reasons,
        "reasons": account.stale_reasons,
        "last_input_at": account.last_input_at,
        "snapshots": [
            {
                "covers": scope.covers,
                "complete_snapshot_at": scope.complete_snapshot_at,
                "complete_snapshot_iso": iso(scope.complete_snapshot_at),
                "age_ms": scope.age_ms,
                "fresh": scope.fresh,
            }
            for scope in account.snapshots
        ],
        "followed": account.followed,
    }
