"""What the NATS figures share: a fresh prefix for each run, capture lines published as
`trueup run --nats` publishes them, `trueup worker --nats` processes, and the journal's
count of inputs read straight from PostgreSQL (cheap enough to ask every few ms)."""

import asyncio
import contextlib
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import psycopg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from psycopg import sql

from bench import serving
from trueup.adapters.capture import decode_line
from trueup.adapters.nats.streams import MSG_ID, ensure_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.codec import INPUT_TOPIC_PREFIX
from trueup.adapters.store.location import TABLE_PREFIX

READY = " on NATS at "  # runners/nats_worker.py's first log line, once its streams are there
STOP_TIMEOUT_S = 60.0
_COUNT = sql.SQL(
    "SELECT count(*) FILTER (WHERE topic LIKE %s), max(notification_id) "
    "FROM {} WHERE notification_id > %s"
).format(sql.Identifier(f"{TABLE_PREFIX}_events"))


def fresh_subjects() -> Subjects:
    """A prefix no earlier run used: its own streams, consumers and workers' bucket."""
    return Subjects(f"bench{uuid.uuid4().hex[:12]}")


async def publish(js: JetStreamContext, subjects: Subjects, lines: Iterable[bytes]) -> int:
    """Each line to its account's inputs subject with its input id as Nats-Msg-Id, as a
    runner publishes; acknowledged as pipelined batches, in order. How many were stored new."""
    await ensure_streams(js, subjects)
    acks = []
    for line in lines:
        event = decode_line(line)
        subject = subjects.inputs(event.venue, event.account)
        acks.append(await js.publish_async(subject, line, headers={MSG_ID: event.input_id}))
    stored = 0
    for ack in await asyncio.gather(*acks):
        stored += not ack.duplicate
    return stored


async def drop(js: JetStreamContext, subjects: Subjects) -> None:
    """A run's streams and workers' bucket, so that runs do not pile up on the server."""
    bucket = f"{subjects.inputs_stream.removesuffix('_INPUTS')}_WORKERS"
    with contextlib.suppress(NotFoundError):
        await js.delete_key_value(bucket)
    for stream in (subjects.inputs_stream, subjects.events_stream):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)


class InputCount:
    """How many inputs (rejected ones too) a PostgreSQL journal holds, counted on from the
    last row counted: eventsourcing locks the table to insert, so rows become visible in
    notification order, and a count of the rows after the last one seen misses none."""

    def __init__(self, url: str) -> None:
        self._connection = psycopg.connect(url, autocommit=True)
        self._after = 0
        self.count = 0

    def update(self) -> int:
        found = self._connection.execute(_COUNT, (INPUT_TOPIC_PREFIX + "%", self._after))
        row = found.fetchone()
        if row is not None and row[1] is not None:
            self.count += int(row[0])
            self._after = int(row[1])
        return self.count

    def close(self) -> None:
        self._connection.close()


class WorkerProcess:
    """``trueup --store URL worker --nats NATS --nats-prefix P``, its log in a file."""

    def __init__(self, store: str, nats_url: str, subjects: Subjects, log: Path) -> None:
        self.log = log
        argv = [*serving.trueup_command(), "--store", store, "worker", "--nats", nats_url]
        argv += ["--nats-prefix", subjects.prefix]
        self.started = time.perf_counter()
        with log.open("wb") as sink:
            self.process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)

    def said(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        """Whether it has said it is on NATS; raises if it died."""
        if self.process.poll() is not None:
            raise RuntimeError(f"trueup worker exited {self.process.returncode}:\n{self.tail()}")
        return READY in self.said()

    def consuming(self) -> set[str]:
        """The inputs subjects it says it consumes now."""
        now: set[str] = set()
        for line in self.said().splitlines():
            subject = line.rsplit(" ", 1)[-1]
            if " no longer consuming " in line:
                now.discard(subject)
            elif " consuming " in line:
                now.add(subject)
        return now

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; killed if it does not stop in time."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.said().splitlines()[-lines:])


def stop_all(workers: Sequence[WorkerProcess]) -> None:
    """Every worker told to stop at once, then waited for."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.stop()
