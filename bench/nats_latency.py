"""Latency through NATS: a closing position frame published to an account's inputs subject
(as `trueup run --nats` publishes it) -> its POSITION_CLOSED received on
``<prefix>.events.bybit.<account>.POSITION_CLOSED`` through a core NATS subscription, one
``trueup worker --nats`` running over a fresh PostgreSQL journal.

Each sample is bench/latency.py's stop-out, on a symbol and position of its own: a LIVE
position opened and shown by the exchange (setup, published and waited for until the
worker has acknowledged it, so stored and projected), then, a random part of the worker's
fetch wait later, the position frame showing it flat (timed from before its publish, ack
included, until the close with the id the rules give it arrives). Measured in a fresh
process: ``python -m bench.nats_latency WORK JSON``.
"""

import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import nats.aio.client
import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bench import nats_wire
from bench.latency import PHASE_SEED, StopOut, scenario
from bench.serving import child_main, run_child
from bench.stores import PostgresStore
from bench.workload import ACCOUNT, VENUE
from trueup.adapters.nats.consumers import consumers_of
from trueup.adapters.nats.streams import MSG_ID, ensure_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.domain.events import InputEvent
from trueup.runners.nats_worker import FETCH_WAIT_S

JSON = dict[str, Any]
TARGET_P99_MS = 50.0
START_TIMEOUT_S = 60.0
SAMPLE_TIMEOUT_S = 10.0
# can-open asked this many times per sample's symbol, after the latency samples.
CAN_OPEN_ROUNDS = 5
LOOK_EVERY_S = 0.002  # how often the consumer's ack floor is asked for (setup, untimed)


def through_worker(
    server: PostgresStore, nats_url: str, samples: int, warm_up: int
) -> tuple[list[float], list[float]]:
    """The samples' latencies in ms, and can-open's request/reply round trips after them,
    warm-up left out, measured in a fresh process."""
    with server.fresh() as url:
        result = run_child(
            "bench.nats_latency",
            "worker",
            {"url": url, "nats_url": nats_url, "samples": samples, "warm_up": warm_up},
        )
    return [float(ms) for ms in result["ms"]], [float(ms) for ms in result["can_open_ms"]]


def work_worker(url: str, nats_url: str, samples: int, warm_up: int) -> JSON:
    subjects = nats_wire.fresh_subjects()
    inputs = scenario(warm_up + samples)
    with tempfile.TemporaryDirectory(prefix="trueup-nats-latency-") as logs:
        worker = nats_wire.WorkerProcess(url, nats_url, subjects, Path(logs) / "worker.log")
        try:
            took, asked = asyncio.run(
                _measure(nats_url, subjects, inputs.mode, inputs.stop_outs, worker)
            )
        except Exception as error:
            raise RuntimeError(f"{error}; the worker's last words:\n{worker.tail()}") from error
        finally:
            nats_wire.stop_all([worker])
    return {"ms": took[warm_up:], "can_open_ms": asked[warm_up:]}


async def _measure(
    nats_url: str,
    subjects: Subjects,
    mode: InputEvent,
    stop_outs: tuple[StopOut, ...],
    worker: nats_wire.WorkerProcess,
) -> tuple[list[float], list[float]]:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    arrived: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    async def closed(message: Msg) -> None:
        arrived.put_nowait((time.perf_counter(), orjson.loads(message.data)["event_id"]))

    try:
        await ensure_streams(js, subjects)
        await client.subscribe(subjects.events(VENUE, ACCOUNT, "POSITION_CLOSED"), cb=closed)
        consumer = subjects.inputs(VENUE, ACCOUNT)
        # The worker learns the account at its next round, then makes its consumer.
        await _stored(js, subjects, consumer, await _publish(js, subjects, [mode]), worker)
        phases = random.Random(PHASE_SEED)
        took = []
        for stop_out in stop_outs:
            last = await _publish(js, subjects, stop_out.setup)
            await _stored(js, subjects, consumer, last, worker)
            await asyncio.sleep(phases.uniform(0, FETCH_WAIT_S))
            start = time.perf_counter()
            await _publish(js, subjects, [stop_out.trigger])
            took.append((await _received(arrived, stop_out.closed_id) - start) * 1000)
        symbols = [symbol for s in stop_outs for symbol in s.trigger.symbols or ()]
        asked = await _can_open(client, subjects, symbols, CAN_OPEN_ROUNDS)
        return took, asked
    finally:
        await nats_wire.drop(js, subjects)
        await client.close()


async def _can_open(
    client: nats.aio.client.Client, subjects: Subjects, symbols: list[str], rounds: int
) -> list[float]:
    """Each symbol asked ``rounds`` times over request/reply, one request at a time, as a
    bot asks before each entry: the round trips in ms."""
    subject = subjects.can_open(VENUE, ACCOUNT)
    took = []
    for _ in range(rounds):
        for symbol in symbols:
            start = time.perf_counter()
            reply = await client.request(subject, orjson.dumps({"symbol": symbol}), timeout=5)
            took.append((time.perf_counter() - start) * 1000)
            if "allowed" not in orjson.loads(reply.data):
                raise RuntimeError(f"can-open over NATS answered {reply.data!r}")
    return took


async def _publish(js: JetStreamContext, subjects: Subjects, events: Any) -> int:
    """Each input as a runner publishes it, one ack after the other; the last's sequence."""
    sequence = 0
    for event in events:
        subject = subjects.inputs(event.venue, event.account)
        ack = await js.publish(subject, event.raw.encode(), headers={MSG_ID: event.input_id})
        sequence = ack.seq
    return sequence


async def _stored(
    js: JetStreamContext,
    subjects: Subjects,
    subject: str,
    sequence: int,
    worker: nats_wire.WorkerProcess,
) -> None:
    """Until the worker has acknowledged ``sequence`` of ``subject``: it acknowledges after
    the transaction that stored and projected it."""
    deadline = time.perf_counter() + START_TIMEOUT_S
    while True:
        try:
            found = await consumers_of(js, subjects, subject)
        except NotFoundError:
            found = []
        floors = [info.ack_floor.stream_seq or 0 for info in found if info.ack_floor]
        if max(floors, default=0) >= sequence:
            return
        if not found:
            worker.ready()  # raises if it died
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the worker did not acknowledge input {sequence} in time")
        await asyncio.sleep(LOOK_EVERY_S)


async def _received(arrived: asyncio.Queue[tuple[float, str]], event_id: str) -> float:
    """When the close with ``event_id`` arrived (others, from earlier samples, skipped)."""
    while True:
        at, found = await asyncio.wait_for(arrived.get(), SAMPLE_TIMEOUT_S)
        if found == event_id:
            return at


CHILD_WORK: dict[str, Callable[..., JSON]] = {"worker": work_worker}

if __name__ == "__main__":
    child_main(CHILD_WORK, sys.argv[1:])
