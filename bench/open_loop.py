"""Open-loop load, as wrk2 makes it: many keep-alive connections, each asking at a steady
rate whatever the server's pace, each request's latency counted from the instant it was due
(not from when it could be sent), so a server that falls behind shows its queue in the
figures rather than slowing the load down (coordinated omission).

Plain asyncio streams and hand-written HTTP/1.1, not an HTTP client library: at a thousand
connections the load's own cost must stay small beside the server's on the same cores. The
connections are spread over processes (PER_PROCESS each, one schedule between them), and
each process says how late it sent (its send lag): a load that cannot keep up shows there,
and in a sent rate below the offered one, rather than passing for the server's slowness.
"""

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.serving import percentile

JSON = dict[str, Any]
CONNECT_TIMEOUT_S = 30.0
# After the last request is due, how long answers are waited for before the run is cut.
DRAIN_S = 10.0
HEADER_END = b"\r\n\r\n"
# Connections one load process holds: a few thousand requests a second at most, well within
# one asyncio loop's pace.
PER_PROCESS = 250
# From the parent's go (every process connected) to the first request due.
START_S = 0.5
BARRIER_POLL_S = 0.01
BARRIER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Offered:
    """The load asked for: ``connections`` keep-alive connections, each sending
    ``rate`` requests per second for ``seconds``."""

    connections: int
    rate: float
    seconds: float

    @property
    def per_second(self) -> float:
        return self.connections * self.rate

    @property
    def processes(self) -> int:
        return -(-self.connections // PER_PROCESS)

    def share(self, process: int) -> range:
        """The connections (numbers in the whole schedule) process ``process`` holds."""
        return range(process * PER_PROCESS, min(self.connections, (process + 1) * PER_PROCESS))


def work_open_loop(
    *,
    base: str,
    paths: list[str],
    connections: int,
    rate: float,
    seconds: float,
    first: int,
    count: int,
    barrier: str,
) -> JSON:
    """One process's share of an open-loop run: connections ``first`` to ``first + count``
    of ``connections``, on the schedule the parent starts once every process has connected
    (``barrier``: see go). Its raw latencies (ms), for the parent to merge."""
    offered = Offered(connections, rate, seconds)
    share = range(first, first + count)
    return asyncio.run(_run(base, paths, offered, share, Path(barrier)))


def go(barrier: Path, processes: int) -> None:
    """The parent's side: once ``processes`` have said they are connected (a file each in
    ``barrier``), the instant (time.time()) their first request is due, written for all."""
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while len(list(barrier.glob("connected-*"))) < processes:
        if time.monotonic() > deadline:
            raise RuntimeError("the open-loop processes did not connect in time")
        time.sleep(BARRIER_POLL_S)
    (barrier / "go.tmp").write_text(repr(time.time() + START_S))
    (barrier / "go.tmp").rename(barrier / "go")  # whole, never half written


async def _start_at(barrier: Path, first: int) -> float:
    """This process connected; when the parent says the schedule starts (time.time())."""
    (barrier / f"connected-{first}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no go from the parent")
        await asyncio.sleep(BARRIER_POLL_S)
    return float((barrier / "go").read_text())


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _connect(host: str, port: int, share: range) -> list[tuple[int, Streams]]:
    """A connection for each number in ``share``, those that opened."""
    opened = await asyncio.gather(
        *(asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S) for _ in share),
        return_exceptions=True,
    )
    return [
        (number, streams)
        for number, streams in zip(share, opened, strict=True)
        if not isinstance(streams, BaseException)
    ]


async def _run(
    base: str, paths: Sequence[str], offered: Offered, share: range, barrier: Path
) -> JSON:
    where = urlsplit(base)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    streams = await _connect(host, port, share)
    latencies: list[float] = []
    # How late each request went by this process's fault: from when it was due, or when the
    # answer before it on its connection came if later (that wait is the server's), to when
    # it went. A load falling behind its schedule shows here.
    lags: list[float] = []
    on_time: list[bool] = []  # each request sent: within the schedule's seconds or not
    errors = len(share) - len(streams)  # connections refused count as errors
    interval = 1.0 / offered.rate
    # The parent's wall-clock instant on this process's clock (one schedule for all).
    start_at = await _start_at(barrier, share.start)
    begin = time.perf_counter() + (start_at - time.time())
    deadline = begin + offered.seconds
    # Each connection's next request due and not yet answered (None: none left).
    waiting: dict[int, float | None] = dict.fromkeys(share)

    async def asker(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        """One connection's requests, each due at its own instant; its errors."""
        failed = 0
        # Connections spread evenly over one interval, so the load is steady, not in bursts.
        due = begin + interval * number / offered.connections
        questions = itertools.islice(itertools.cycle(paths), number, None)
        while due < deadline:
            waiting[number] = due
            free = time.perf_counter()  # the connection's previous answer is in
            pause = due - free
            if pause > 0:
                await asyncio.sleep(pause)
            request = b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
                next(questions).encode(),
                host.encode(),
            )
            try:
                sent = time.perf_counter()
                lags.append(sent - max(due, free))
                on_time.append(sent <= deadline)
                writer.write(request)
                status = await _answer(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                waiting[number] = None
                return failed + 1 + int((deadline - due) / interval)  # the rest never go
            if status >= 400:
                failed += 1
            else:
                latencies.append(time.perf_counter() - due)
            due += interval
        waiting[number] = None
        return failed

    tasks = [
        asyncio.create_task(asker(number, reader, writer)) for number, (reader, writer) in streams
    ]
    done, late = await asyncio.wait(tasks, timeout=deadline + DRAIN_S - time.perf_counter())
    cut = time.perf_counter()
    for task in late:
        task.cancel()
    for _, (_, writer) in streams:
        writer.close()
    errors += sum(task.result() for task in done)
    # Requests due and still unanswered at the cut: each has waited at least this long, and
    # counts so (a lower bound) rather than dropping out of the figures.
    unanswered = 0
    for first in waiting.values():
        due = first
        while due is not None and due < deadline:
            latencies.append(cut - due)
            unanswered += 1
            due += interval
    return {
        "latencies_ms": [round(latency * 1000, 3) for latency in latencies],
        "requests": len(latencies) + errors,
        "sent": sum(on_time),
        "unanswered": unanswered,
        "seconds": cut - begin,
        "lag_p99_ms": percentile(lags, 0.99) * 1000 if lags else 0.0,
        "errors": errors,
    }


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one response (Content-Length framed, as the server's documents are); its status."""
    head = await reader.readuntil(HEADER_END)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status
