"""``trueup worker --nats URL``: inputs from JetStream into the journal, the projection of the
account partitions this worker holds, and what it emits back to JetStream once committed.

Every round (a second) a worker says it is alive (a key in the ``<PREFIX>_WORKERS``
bucket, gone seconds after it dies), learns the accounts on the inputs subjects, and takes
or lets go of partition leases for a fair share (runners/partition_shares.py). For each
account of a partition it holds, it fetches that account's inputs in order; one writer
stores what the fetchers bring, a batch per transaction, runs the projection, acknowledges
the inputs, and publishes what was emitted (adapters/nats/outbox.py). The journal is only
ever touched from one thread; can-open requests are answered from a connection of their
own (runners/nats_can_open.py).
"""

import asyncio
import contextlib
import fnmatch
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from trueup.adapters.capture import decode_line
from trueup.adapters.nats.connection import connect, require_jetstream, shown
from trueup.adapters.nats.consumers import AccountInputs, ConsumerGone
from trueup.adapters.nats.outbox import Outbox, outbox_tracker, start_outbox, unpublished
from trueup.adapters.nats.streams import StreamTaken, ensure_streams
from trueup.adapters.nats.subjects import NotAToken, Subjects
from trueup.adapters.store.journal import Appended, Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import ALL, partition_of
from trueup.runners.nats_can_open import CanOpenResponder
from trueup.runners.partition_shares import Moves, plan

log = logging.getLogger("trueup.worker")
T = TypeVar("T")
ROUND_S = 1.0
# A worker that has not said it is alive for this long is counted out of the shares.
ALIVE_TTL_S = 4.0
FETCH_WAIT_S = 1.0
# The most inputs stored in one transaction, however many accounts brought them: more
# gains little, and a round that lets partitions go waits for the transaction.
MAX_BATCH = 2_000
# The account-less inputs (rules put in force) are taken by the holder of this partition.
ACCOUNTLESS_PARTITION = 0


@dataclass
class Batch:
    """Messages one account's fetcher brought, and the fetcher waiting for them to be stored."""

    inputs: AccountInputs
    messages: list[Msg]
    stored: asyncio.Future[None]


class Signal(Enum):
    """What the writer is told besides batches."""

    POLL = "catch up with what other processes appended"
    STOP = "finish the batches before this, then stop"


@dataclass
class Stored:
    """What one writer's transaction did."""

    inputs: int = 0
    emitted: list[Emitted] = field(default_factory=list)
    # The journal's end after the projection recorded: every partition's events up to here
    # are in the outbox's hands.
    end: int = 0


class NatsWorker:
    """One worker process: fetchers per account, one writer, the rounds that share the work."""

    def __init__(
        self,
        journal: Journal,
        url: str,
        subjects: Subjects,
        *,
        accounts: str | None = None,
        batch: int = 1_000,
        name: str | None = None,
        answers: Journal | None = None,
    ) -> None:
        self.journal = journal
        # Where can-open requests are answered from: a connection of its own, so that an
        # answer never waits for the writer's transaction (None: not answered here).
        self.answers = answers
        self.url = url
        self.subjects = subjects
        self.pattern = accounts
        self.batch = batch
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stored = 0
        self.emitted = 0
        self._db = ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._leased: LeasedProjection | None = None
        self._queue: asyncio.Queue[Batch | Signal] = asyncio.Queue()
        self._alive: KeyValue | None = None
        self._counted = False
        self._fetchers: dict[str, asyncio.Task[None]] = {}
        self._accounts: dict[str, tuple[str, str]] = {}
        self._foreign: set[str] = set()  # subjects not trueup's, told of once each

    # --- the journal's thread -----------------------------------------------------------

    async def _in_journal(self, call: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(call, *args))

    @property
    def leased(self) -> LeasedProjection:
        assert self._leased is not None
        return self._leased

    def _store(self, events: list[InputEvent]) -> Stored:
        appended: Appended | None = self.journal.append(events) if events else None
        emitted = self.leased.catch_up(appended, take_free=False)
        end = self.journal.last_position() if emitted else 0
        return Stored(len(events), emitted, end)

    def _take(self, moves: Moves) -> list[Emitted]:
        """Take the partitions' leases the moves name, if free; what the newly taken had
        emitted that their outbox never saw published."""
        taken: list[int] = []
        for number in moves.busy:
            if len(taken) == moves.room:
                break
            taken += self.leased.take([number])
        taken += self.leased.take(moves.idle)
        pending: list[Emitted] = []
        for number in taken:
            start_outbox(self.journal, number)
            pending += [event for _, event in unpublished(self.journal, number)]
        return pending

    def _held(self) -> set[int]:
        return set(self.leased.held)

    def _published(self, partitions: set[int], end: int) -> None:
        for number in sorted(partitions):
            self.journal.record_progress(outbox_tracker(number), end)

    # --- the process ---------------------------------------------------------------------

    async def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set, then finish what was fetched and let everything go."""
        self._leased = await self._in_journal(LeasedProjection, self.journal)
        client = await connect(self.url, f"trueup worker {self.name}")
        try:
            js = client.jetstream(timeout=5.0)
            await require_jetstream(client, self.url)
            await ensure_streams(js, self.subjects)
            outbox = Outbox(js, self.subjects)
            writer = asyncio.create_task(self._write(outbox))
            responder = None
            if self.answers is not None:
                responder = CanOpenResponder(
                    self.url,
                    self.subjects,
                    TrueupService(self.answers),
                    threading.Lock(),
                    name=f"trueup worker {self.name} can-open",
                )
                await responder.start()
            log.info(
                "worker %s on NATS at %s, taking %s",
                self.name,
                shown(self.url),
                f"accounts {self.pattern}" if self.pattern else "any account",
            )
            while not stop.is_set() and not writer.done():
                await self._round(js, outbox, client)
                await asyncio.sleep(ROUND_S)
            if writer.done():
                # The store gave up (--give-up-after), or worse: said, never a silent hang.
                writer.result()
            if responder is not None:
                await responder.stop()
            await self._stop_fetching(list(self._fetchers))
            await self._queue.put(Signal.STOP)
            await writer
            if self._alive is not None:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await self._alive.delete(self.name)
        finally:
            await self._in_journal(self._let_everything_go)
            await client.close()
            self._db.shutdown()

    def _let_everything_go(self) -> None:
        if self._leased is not None:
            self._leased.release()

    async def _round(self, js: JetStreamContext, outbox: Outbox, client: Client) -> None:
        """Say this worker is alive, learn the accounts, and take or let go of partitions."""
        if not client.is_connected:
            return  # while NATS is away, keep what is held: nothing can be fetched anyway
        try:
            if self._alive is None:
                self._alive = await _alive_bucket(js, self.subjects)
            await self._alive.put(self.name, b"")
            if not self._counted:
                # Said alive for the first time: workers started with this one are counted
                # next round, so that the first of them does not take every account.
                self._counted = True
                return
            workers = len(await _keys(self._alive))
            subjects = await _subjects(js, self.subjects)
        except NotFoundError:
            # A NATS restarted without its memory, or streams an operator deleted.
            self._alive = None
            with contextlib.suppress(nats.errors.Error, OSError, StreamTaken):
                await ensure_streams(js, self.subjects)
            return
        except (nats.errors.Error, TimeoutError, OSError) as error:
            self._alive = None
            log.debug("round skipped: %r", error)
            return
        self._accounts = {s: a for s in subjects if (a := self._account(s)) is not None}
        busy = {partition_of(*a) for a in self._accounts.values() if a != ("", "")}
        held = await self._in_journal(self._held)
        moves = plan(held, self._offered(), busy, workers)
        if moves.let_go:
            going = [s for s, a in self._accounts.items() if self._partition(a) in moves.let_go]
            await self._stop_fetching(going)
            await self._in_journal(self.leased.let_go, list(moves.let_go))
        if moves.room or moves.idle:
            pending = await self._in_journal(self._take, moves)
            if pending:
                log.info("publishing %d events emitted before a restart", len(pending))
                await outbox.publish(pending)
        held = await self._in_journal(self._held)
        for subject, account in self._accounts.items():
            if self._partition(account) in held and subject not in self._fetchers:
                await self._start_fetching(js, subject)
        gone = [s for s in self._fetchers if self._partition(self._accounts.get(s)) not in held]
        await self._stop_fetching(gone)
        # Inputs other processes appended to the journal directly are processed too.
        self._queue.put_nowait(Signal.POLL)

    def _account(self, subject: str) -> tuple[str, str] | None:
        try:
            return self.subjects.account_of(subject)
        except NotAToken:
            if subject not in self._foreign:  # asked every round: said once
                self._foreign.add(subject)
                log.warning("ignoring inputs on %s: not a subject trueup publishes", subject)
            return None

    @staticmethod
    def _partition(account: tuple[str, str] | None) -> int | None:
        if account is None:
            return None
        return ACCOUNTLESS_PARTITION if account == ("", "") else partition_of(*account)

    def _offered(self) -> set[int]:
        """The partitions this worker offers to run: with ``--accounts``, those holding a
        matching account (and the account-less inputs' partition); else all."""
        if self.pattern is None:
            return set(ALL)
        matching = {
            partition_of(*a)
            for a in self._accounts.values()
            if a != ("", "") and fnmatch.fnmatchcase(f"{a[0]}/{a[1]}", self.pattern)
        }
        return matching | {ACCOUNTLESS_PARTITION}

    async def _start_fetching(self, js: JetStreamContext, subject: str) -> None:
        try:
            inputs = await AccountInputs.take(js, self.subjects, subject)
        except Exception as error:  # the next round tries again
            # Not only the server's errors: nats-py fails on a consumer listed as null (one
            # another worker deletes meanwhile, on a nats-server before 2.10).
            log.warning("cannot consume %s yet: %r", subject, error)
            return
        self._fetchers[subject] = asyncio.create_task(self._fetch(inputs))
        log.info("consuming %s", subject)

    async def _stop_fetching(self, subjects: list[str]) -> None:
        for subject in subjects:
            task = self._fetchers.pop(subject, None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                log.info("no longer consuming %s", subject)

    async def _fetch(self, inputs: AccountInputs) -> None:
        """One account's inputs, a batch at a time, each stored before the next is fetched."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    messages = await inputs.fetch(self.batch, FETCH_WAIT_S)
                except ConsumerGone as gone:
                    # Taken over (this worker's lease lost unnoticed): taken again next
                    # round if this worker still holds the account's partition.
                    log.info("%s: another worker took it over", gone)
                    self._fetchers.pop(inputs.subject, None)
                    return
                except (nats.errors.Error, TimeoutError, OSError) as error:
                    log.debug("fetching %s: %r", inputs.subject, error)
                    await asyncio.sleep(0.25)
                    continue
                # nats-py waits with asyncio.wait_for, which on Python 3.11 loses a cancel
                # landing as a message arrives (CPython gh-86296): _stop_fetching would wait
                # for ever. What was fetched is unacknowledged, so delivered again.
                if _cancelling():
                    raise asyncio.CancelledError
                if messages:
                    stored: asyncio.Future[None] = loop.create_future()
                    await self._queue.put(Batch(inputs, messages, stored))
                    await stored
        finally:
            await inputs.close()

    async def _write(self, outbox: Outbox) -> None:
        """The one writer: store, project, acknowledge, publish, in that order."""
        while True:
            first = await self._queue.get()
            if first is Signal.STOP:
                return
            taken = [first]
            count = 0
            while count < MAX_BATCH and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is Signal.STOP:
                    self._queue.put_nowait(more)  # once the batches before it are done
                    break
                taken.append(more)
                count += len(more.messages) if isinstance(more, Batch) else 0
            real = [b for b in taken if isinstance(b, Batch)]
            events = [decode_line(m.data) for b in real for m in b.messages]
            done = await self._in_journal(self._store, events)
            self.stored += done.inputs
            for batch in real:
                with contextlib.suppress(nats.errors.Error, OSError):
                    # Lost, it is delivered again and found already stored.
                    await batch.inputs.acknowledge(batch.messages[-1])
                if not batch.stored.done():
                    batch.stored.set_result(None)
            if done.emitted:
                await outbox.publish(done.emitted)
                self.emitted += len(done.emitted)
                partitions = {partition_of(e.venue, e.account) for e in done.emitted}
                await self._in_journal(self._published, partitions, done.end)


async def _alive_bucket(js: JetStreamContext, subjects: Subjects) -> KeyValue:
    """The bucket where workers say they are alive; made on first use."""
    bucket = f"{subjects.inputs_stream.removesuffix('_INPUTS')}_WORKERS"
    try:
        return await js.key_value(bucket)
    except NotFoundError:
        config = KeyValueConfig(
            bucket=bucket,
            description="trueup workers alive",
            ttl=ALIVE_TTL_S,
            storage=StorageType.MEMORY,
        )
        return await js.create_key_value(config)


async def _keys(alive: KeyValue) -> list[str]:
    try:
        return await alive.keys()
    except NoKeysError:
        return []


async def _subjects(js: JetStreamContext, subjects: Subjects) -> list[str]:
    """The inputs subjects the stream holds messages on."""
    info = await js.stream_info(subjects.inputs_stream, subjects_filter=subjects.all_inputs)
    return sorted((info.state.subjects or {}).keys())


def _cancelling() -> bool:
    """Whether the running task has been asked to stop, even if the request was lost."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
