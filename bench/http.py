"""HTTP figures (issue 10): ``trueup serve`` under load from other processes on 127.0.0.1,
on a copy of the serving figures' 1M journal, beside the same on its small one (bench/serving.py
generates and caches both; the same accounts and 10,000 open positions in each).

- Closed loop, GET /v1/can-open and GET /v1/positions at 1, 100 and 1,000 connections: p50
  and p99 latency and requests/s. Each connection asks again as soon as it is answered
  (wrk, a Lua script cycling through the questions; without wrk an async client, httpx, in
  a child process): how fast answers can go. With N connections N requests are always in
  flight, so by Little's law latency = N / throughput: at 1,000 connections a p99 under
  10 ms would take ~100,000 requests/s, far past what 2 cores (shared with the load) serve,
  so that row's p99 measures the queue of 1,000, not the wait one client sees.
- Open loop (bench/open_loop.py), the same GETs from 1,000 keep-alive connections, each a
  client asking at a steady rate (once a second, as a polling bot does, then five times a
  second) whatever the server's pace, each latency counted from when the request was due
  (no coordinated omission): what 1,000 bots see, the row the 10 ms target is about. The
  connections are spread over processes on one schedule; the load's own pace (sent/s) and
  lateness (send after due) are rows of their own, so a load that could not keep up shows.
- POST /v1/inputs: inputs/s, NDJSON batches of 1,000 new capture lines, one batch after the
  other (writes take the journal one at a time; reads go through readers of their own).
- A closing snapshot POSTed -> its POSITION_CLOSED read from the event stream (SSE): each
  sample a fresh LIVE position of an account of its own, opened (intent), shown by a
  complete REST position snapshot, then closed by one in which the exchange holds nothing.
  The POSTs and the stream's reader are one asyncio client in a child process.

The server is the ``trueup`` console script (``serve --workers N``: ``Sizes.workers``
processes; TRUEUP_BENCH_SERVER names another checkout's script), started on a working copy
of each journal with TRUEUP_API_TOKEN set; its start counts as done once /health says its
projection holds the leases and has caught up with the journal's end (asked twice: the
second answer waits for the first catch-up). ``--baseline-checkout PATH`` (Sizes.baseline)
measures the large journal alone, served by this checkout and by PATH's trueup (after
`make install` there) in turn, repeat by repeat, each on a fresh copy and server, and puts
the baseline's column beside this one's, e.g. on the quick journal:
``python -m bench --http --quick --baseline-checkout /tmp/base`` (a worktree of the commit
compared against). The open-file limit is raised to its hard limit for the load and the
server (1,000 connections). Each measurement in a fresh process: ``python -m bench.http
WORK JSON`` prints one JSON object (see CHILD_WORK). Figures are printed, never asserted.
"""

import asyncio
import itertools
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import serving
from bench.open_loop import DRAIN_S, Offered, go, work_open_loop
from bench.report import Target
from bench.serving import (
    ACCOUNTS,
    MINUTE_MS,
    VENUE,
    Generated,
    Progress,
    Row,
    account_name,
    percentile,
    symbol_name,
)
from bench.timing import Stats
from bench.workload import stop_loss_fill
from trueup.adapters.bybit import messages

JSON = dict[str, Any]

TOKEN = "bench-http-token"
TOKEN_ENV = "TRUEUP_API_TOKEN"  # runners.http_server.TOKEN_ENV, without importing the server here
SERVER_ENV = "TRUEUP_BENCH_SERVER"  # the trueup script to serve with, when not this checkout's
P99_TARGET_MS = 10.0  # at 1,000 connections (issue 10)
READY_TIMEOUT_S = 600.0  # the server's start: the projection restores its snapshot first
STOP_TIMEOUT_S = 120.0  # its stop: the projection snapshots 10,000 positions
SETTLE_S = 20.0  # a load run's backlog answered within this, else the server restarts
REQUEST_TIMEOUT_S = 30.0  # a load request slower than this is an error (wrk's --timeout)
WARM_UP_S = 1.0
WARM_UP_CONNECTIONS = 10
CLOSE_ACCOUNT = "http-bench"  # an account of its own: each closing snapshot closes one position
CLOSE_TIMEOUT_S = 30.0
# Venue and account both: one partition's views read (or replayed), not every account's.
CLOSE_QUERY = {"venue": VENUE, "account": CLOSE_ACCOUNT}
QUICK_INPUTS = 20_000  # --quick: the journals of this many inputs instead of 1M
# An open-loop run whose load sent less than this share of the offered requests is said to
# have fallen behind (its figures are then partly the load's).
OFFERED_KEPT = 0.98


# 1,000 bots polling once a second each, and the same bots five times as eager (open loop).
BOTS_POLLING = (
    Offered(connections=1_000, rate=1.0, seconds=10.0),
    Offered(connections=1_000, rate=5.0, seconds=10.0),
)


@dataclass(frozen=True)
class Sizes:
    connections: tuple[int, ...] = (1, 100, 1_000)
    seconds: float = 5.0  # per load run
    repeats: int = 3  # load runs per figure, and timed POST runs
    post_inputs: int = 30_000  # per timed POST run
    post_batch: int = 1_000  # lines per POST
    close_samples: int = 50
    close_warm_up: int = 5
    offered: tuple[Offered, ...] = BOTS_POLLING
    # Serving processes (trueup serve --workers): one per core of this machine.
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Another checkout (its .venv/bin/trueup) measured beside, run for run in turn, on the
    # large journal alone (--baseline-checkout).
    baseline: Path | None = None


QUICK = Sizes(
    connections=(1, 100, 1_000),
    seconds=1.0,
    repeats=2,
    post_inputs=5_000,
    close_samples=10,
    close_warm_up=2,
    offered=tuple(replace(offered, seconds=3.0) for offered in BOTS_POLLING),
)


ROWS_TEXT = (
    "closed loop: each connection asks again once answered, so N connections keep N requests "
    "in flight and latency = N / requests/s (Little's law): the 1,000-connection p99 under "
    "10 ms would take ~100,000 req/s, so that row is the queue of 1,000, not one client's "
    "wait; open loop: 1,000 connections each asking at a steady rate, as polling bots do, "
    "latency from when each request was due: the wait a bot sees at that load"
)


# --- what is asked -------------------------------------------------------------------------


def can_open_paths(at: int) -> list[str]:
    """serving's can-open questions (held symbols: no; a new one: yes), judged as of the
    journal's end, when the exchange view is fresh."""
    return [
        f"/v1/can-open?venue={VENUE}&account={account}&symbol={symbol}&at={at}"
        for account, symbol in serving._queries()
    ]


def positions_paths() -> list[str]:
    """One held position each, as a bot asks about the symbol it trades."""
    return [
        f"/v1/positions?venue={VENUE}&account={account_name(i)}&symbol={symbol_name((i * 7) % 100)}"
        for i in range(ACCOUNTS)
    ]


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``trueup --store JOURNAL serve`` with a token (its log in ``log``), restartable."""

    def __init__(
        self, journal: Generated, log: Path, workers: int = 1, command: list[str] | None = None
    ) -> None:
        self.journal = journal
        self.log = log
        self.workers = workers
        self.command = command  # the trueup to serve with; None: server_command()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts: list[float] = []  # each start: process start -> answering, caught up
        self.restarts = 0  # to be rid of a backlog

    def start(self) -> None:
        command = self.command or server_command()
        argv = [*command, "--store", self.journal.path, "serve"]
        argv += ["--port", str(self.port)]
        if self.workers > 1:
            argv += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            begin = time.perf_counter()
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, TOKEN_ENV: TOKEN}
            )
        _wait_ready(self.base, self.process, begin, self.log)
        self.starts.append(time.perf_counter() - begin)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; its exit status checked."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode != 0:
            raise RuntimeError(f"trueup serve exited {process.returncode}:\n{_tail(self.log)}")

    def settle(self) -> None:
        """Wait for the requests a load run left queued (its clients gone, the server still
        answers each) to be answered, so that they weigh on no later figure: until /health
        (which waits its turn for the journal too) answers. A backlog longer than SETTLE_S
        (slow answers at many connections) is ended by restarting the server."""
        try:
            httpx.get(f"{self.base}/health", timeout=SETTLE_S)
        except httpx.TimeoutException:
            self.restarts += 1
            self.stop()
            self.start()


def server_command() -> list[str]:
    """This checkout's trueup, or the one TRUEUP_BENCH_SERVER names."""
    return [os.environ[SERVER_ENV]] if os.environ.get(SERVER_ENV) else serving.trueup_command()


def checkout_command(checkout: Path) -> list[str]:
    """The trueup of another checkout (made with `make install`)."""
    script = checkout / ".venv" / "bin" / "trueup"
    if not script.exists():
        raise RuntimeError(f"no {script}: run `make install` in {checkout}")
    return [str(script)]


@contextmanager
def running_server(
    journal: Generated, log: Path, workers: int = 1, command: list[str] | None = None
) -> Iterator[Server]:
    """The server, started, until the block ends."""
    server = Server(journal, log, workers, command)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _wait_ready(base: str, process: subprocess.Popen[bytes], begin: float, log: Path) -> None:
    """Until the projection has been seen held and two answers in a row say it is caught
    up (with several processes, the one asked may stand by for the leases: each question on
    a new connection, which any of them may take, lest one that holds none is asked for
    ever)."""
    ready = 0
    held = False
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, limits=fresh) as client:
        while ready < 2:
            if process.poll() is not None:
                raise RuntimeError(f"trueup serve exited {process.returncode}:\n{_tail(log)}")
            if time.perf_counter() - begin > READY_TIMEOUT_S:
                raise RuntimeError(f"trueup serve did not start in time:\n{_tail(log)}")
            try:
                projection = client.get("/health").json()["projection"]
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            held = held or bool(projection["partitions_held"])
            caught_up = held and projection["inputs_behind"] == 0
            ready = ready + 1 if caught_up else 0
            if ready < 2:
                time.sleep(0.05)


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- load: wrk, else an async client in a child process --------------------------------------


@dataclass(frozen=True)
class Load:
    """One load run: its requests, how long it ran, its latency percentiles, its errors
    (connect, read, write, timeout, or an HTTP status >= 400)."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    # Open loop: requests due and still unanswered when the run was cut (in the percentiles
    # at the wait they had reached: a lower bound); requests sent within the schedule's
    # seconds; how late the load sent by its own fault (its processes' worst p99).
    unanswered: int = 0
    sent: int = 0
    scheduled_s: float = 0.0
    lag_p99_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def answered(self) -> int:
        return self.requests - self.errors - self.unanswered

    @property
    def sent_rate(self) -> float:
        return self.sent / self.scheduled_s if self.scheduled_s else 0.0


WRK_SCRIPT = """\
local paths = {%(paths)s}
local count = 0
request = function()
  count = count + 1
  return wrk.format("GET", paths[(count %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, ' ..
    '"p50_us": %%.1f, "p99_us": %%.1f, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "httpx"


def load(
    base: str,
    paths: Sequence[str],
    connections: int,
    seconds: float,
    work: Path,
    *,
    fresh: bool = False,
) -> Load:
    """``connections`` clients, each asking one question after the other for ``seconds``, on
    a connection kept alive (``fresh``: a new connection for each request)."""
    if load_tool() == "wrk":
        return _wrk(base, paths, connections, seconds, work, fresh=fresh)
    result = child(
        "load",
        base=base,
        paths=list(paths),
        connections=connections,
        seconds=seconds,
        fresh=fresh,
    )
    return Load(**result)


def _wrk(
    base: str, paths: Sequence[str], connections: int, seconds: float, work: Path, *, fresh: bool
) -> Load:
    script = work / "paths.lua"
    quoted = ", ".join(orjson.dumps(path).decode() for path in paths)
    script.write_text(WRK_SCRIPT % {"paths": quoted})
    threads = max(1, min(connections, os.cpu_count() or 1))
    raise_open_files()
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s"]
    argv += ["--timeout", f"{REQUEST_TIMEOUT_S:g}s", "-s", str(script), base]
    if fresh:
        argv[1:1] = ["-H", "Connection: close"]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = [line for line in completed.stdout.splitlines() if line.startswith("BENCH ")]
    if completed.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr:.500}")
    result = orjson.loads(found[-1].removeprefix("BENCH "))
    return Load(
        result["requests"],
        result["duration_us"] / 1e6,
        result["p50_us"] / 1000,
        result["p99_us"] / 1000,
        result["errors"],
    )


def raise_open_files() -> None:
    """This process's open-file limit raised to its hard limit (`ulimit -n`), for the load
    and the server it starts: 1,000 connections are 1,000 descriptors on each side, past
    the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def work_load(base: str, paths: list[str], connections: int, seconds: float, fresh: bool) -> JSON:
    """Without wrk: ``connections`` clients asking one request after another for ``seconds``."""
    return asyncio.run(_load(base, paths, connections, seconds, fresh))


async def _load(base: str, paths: list[str], connections: int, seconds: float, fresh: bool) -> JSON:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=0 if fresh else connections
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:

        async def asker(first: int) -> None:
            nonlocal errors
            for path in itertools.islice(itertools.cycle(paths), first, None):
                if time.perf_counter() >= deadline:
                    return
                begin = time.perf_counter()
                try:
                    answer = await client.get(path)
                    failed = answer.status_code >= 400
                except httpx.HTTPError:
                    failed = True
                if failed:
                    errors += 1
                else:
                    latencies.append(time.perf_counter() - begin)

        begin = time.perf_counter()
        deadline = begin + seconds
        await asyncio.gather(*(asker(n) for n in range(connections)))
        elapsed = time.perf_counter() - begin
    ms = [latency * 1000 for latency in latencies] or [0.0]
    return {
        "requests": len(latencies) + errors,
        "seconds": elapsed,
        "p50_ms": percentile(ms, 0.5),
        "p99_ms": percentile(ms, 0.99),
        "errors": errors,
    }


# --- POST /v1/inputs ---------------------------------------------------------------------------


def work_post(base: str, segment: int, count: int, batch: int, after_ms: int) -> JSON:
    """``count`` new capture lines (serving.ingest_lines: none of them in the journal), POSTed
    as NDJSON ``batch`` lines at a time, one POST after the other."""
    lines = serving.ingest_lines(segment, count, after_ms)
    bodies = [b"\n".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S * 10, headers=headers) as client:
        begin = time.perf_counter()
        accepted = 0
        for body in bodies:
            answer = client.post("/v1/inputs", content=body)
            answer.raise_for_status()
            accepted += answer.json()["accepted"]
        seconds = time.perf_counter() - begin
    if accepted != len(lines):
        raise RuntimeError(f"POST /v1/inputs accepted {accepted:,} of {len(lines):,} lines")
    return {"inputs": len(lines), "seconds": seconds}


# --- a closing snapshot POSTed -> POSITION_CLOSED on the stream --------------------------------


def _snapshot(at: int, items: list[JSON]) -> bytes:
    """A complete REST position list (one page) of CLOSE_ACCOUNT."""
    params = {"category": "linear", "settleCoin": "USDT", "limit": "200"}
    body = messages.rest_ok("linear", items, time=at)
    return orjson.dumps(messages.capture_rest(at, CLOSE_ACCOUNT, "/v5/position/list", params, body))


def _opening(number: int, at: int) -> list[bytes]:
    """Sample ``number``'s position: opened LIVE by the bot, shown by the exchange, then
    closed by its stop-loss (the fill first, as the stream sends it: the closing snapshot
    that follows is explained at once)."""
    symbol = f"HB{number:04d}USDT"
    opened = {
        "kind": "position_opened",
        "position_id": f"hb-{number}",
        "category": "linear",
        "symbol": symbol,
        "position_idx": 0,
        "side": "Buy",
        "qty": serving.HELD_QTY,
        "mode": "LIVE",
        "timeframe": "1h",
    }
    shown = messages.position_item(
        symbol=symbol,
        side="Buy",
        size=serving.HELD_QTY,
        entry_price="65000",
        mark_price="65010",
        seq=2 * number + 1,
        updated_time=at - 3,
        rest=True,
    )
    lines = [orjson.dumps(messages.capture_intent(at, CLOSE_ACCOUNT, opened))]
    if number == 0:
        mode = {"kind": "account_mode", "mode": "LIVE"}
        lines.insert(0, orjson.dumps(messages.capture_intent(at - 1, CLOSE_ACCOUNT, mode)))
    stopped = stop_loss_fill(at + 1_500, CLOSE_ACCOUNT, symbol, serving.HELD_QTY, 2 * number + 2)
    return [*lines, _snapshot(at + 1_000, [shown]), orjson.dumps(stopped)]


def work_close(base: str, samples: int, warm_up: int, at: int) -> JSON:
    return asyncio.run(_close(base, samples, warm_up, at))


async def _close(base: str, samples: int, warm_up: int, at: int) -> JSON:
    """Per sample: open a position and have the exchange show it; then, the stream's reader
    waiting, POST the closing snapshot and time it to its POSITION_CLOSED read."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    waiting: dict[str, asyncio.Future[float]] = {}
    closed, posted = [], []
    async with (
        httpx.AsyncClient(base_url=base, timeout=CLOSE_TIMEOUT_S, headers=headers) as client,
        httpx.AsyncClient(base_url=base, timeout=None) as streaming,
    ):
        cursor = (await client.get("/v1/positions", params=CLOSE_QUERY)).json()
        params = {"after": cursor["cursor"], "type": "POSITION_CLOSED", "account": CLOSE_ACCOUNT}
        connected = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(_read_stream(streaming, params, waiting, connected))
        await asyncio.wait_for(connected, CLOSE_TIMEOUT_S)
        try:
            for number in range(warm_up + samples):
                when = at + number * 60_000
                opening = await client.post(
                    "/v1/inputs", content=b"\n".join(_opening(number, when))
                )
                opening.raise_for_status()
                if opening.json()["rejected"]:
                    raise RuntimeError(f"an opening input was rejected: {opening.text:.500}")
                symbol = f"HB{number:04d}USDT"
                arrived = waiting[symbol] = asyncio.get_running_loop().create_future()
                begin = time.perf_counter()
                answer = await client.post("/v1/inputs", content=_snapshot(when + 2_000, []))
                answered = time.perf_counter()
                answer.raise_for_status()
                # Timed to the stream, not to the answer (with --workers, the answer of a
                # process that does not run the account's partition waits for the one that
                # does, and counts what it emitted).
                try:
                    seen = await asyncio.wait_for(arrived, CLOSE_TIMEOUT_S)
                except TimeoutError:
                    raise RuntimeError(
                        f"the closing snapshot closed nothing in {CLOSE_TIMEOUT_S:g} s: "
                        f"{answer.text:.500}"
                    ) from None
                if number >= warm_up:
                    closed.append(seen - begin)
                    posted.append(answered - begin)
        finally:
            reader.cancel()
    return {"closed_s": closed, "posted_s": posted}


async def _read_stream(
    client: httpx.AsyncClient,
    params: dict[str, Any],
    waiting: dict[str, asyncio.Future[float]],
    connected: asyncio.Future[None],
) -> None:
    """Each POSITION_CLOSED's arrival (perf_counter), to whoever waits for its symbol."""
    headers = {"Accept": "text/event-stream"}
    async with client.stream("GET", "/v1/events", params=params, headers=headers) as stream:
        stream.raise_for_status()
        connected.set_result(None)
        kind, data = "", ""
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = line.removeprefix("data:").strip()
            elif not line and data:
                now = time.perf_counter()
                symbol = orjson.loads(data).get("symbol")
                future = waiting.pop(symbol, None) if kind == "POSITION_CLOSED" else None
                if future is not None and not future.done():
                    future.set_result(now)
                kind, data = "", ""


# --- measurements in a fresh process: python -m bench.http WORK JSON ----------------------------


CHILD_WORK: dict[str, Callable[..., JSON]] = {
    "load": work_load,
    "open_loop": work_open_loop,
    "post": work_post,
    "close": work_close,
}


def child(work: str, **arguments: Any) -> JSON:
    """One measurement in a fresh Python process."""
    return serving.run_child("bench.http", work, arguments)


def open_loop(server: Server, paths: list[str], offered: Offered, scratch: Path) -> Load:
    """One open-loop run from child processes on one schedule (each its share of the
    connections), started once they have all connected; their latencies merged; the server
    settled after it."""
    shares = [offered.share(process) for process in range(offered.processes)]
    with (
        tempfile.TemporaryDirectory(prefix="barrier-", dir=scratch) as barrier,
        ThreadPoolExecutor(len(shares)) as pool,
    ):
        running = [
            pool.submit(
                child,
                "open_loop",
                base=server.base,
                paths=paths,
                connections=offered.connections,
                rate=offered.rate,
                seconds=offered.seconds,
                first=share.start,
                count=len(share),
                barrier=barrier,
            )
            for share in shares
        ]
        go(Path(barrier), len(shares))
        results = [result.result() for result in running]
    server.settle()
    ms = [latency for result in results for latency in result["latencies_ms"]] or [0.0]
    return Load(
        sum(result["requests"] for result in results),
        max(result["seconds"] for result in results),
        percentile(ms, 0.5),
        percentile(ms, 0.99),
        sum(result["errors"] for result in results),
        sum(result["unanswered"] for result in results),
        sum(result["sent"] for result in results),
        offered.seconds,
        max(result["lag_p99_ms"] for result in results),
    )


# --- one journal's figures -------------------------------------------------------------------


@dataclass
class Measured:
    """Everything measured on one journal's server (or servers, one after the other)."""

    start_s: list[float] = field(default_factory=list)
    restarts: int = 0  # of the server, to be rid of a load run's backlog
    # (endpoint, connections, a new connection per request) -> the runs
    loads: dict[tuple[str, int, bool], list[Load]] = field(default_factory=dict)
    # (endpoint, the load offered) -> the open-loop runs (bench/open_loop.py)
    open_loops: dict[tuple[str, Offered], list[Load]] = field(default_factory=dict)
    post_rates: list[float] = field(default_factory=list)
    closed_s: list[float] = field(default_factory=list)
    posted_s: list[float] = field(default_factory=list)

    def add(self, other: "Measured") -> None:
        """``other``'s runs beside these (the same journal, another server's start)."""
        self.start_s += other.start_s
        self.restarts += other.restarts
        for key, runs in other.loads.items():
            self.loads.setdefault(key, []).extend(runs)
        for offered, runs in other.open_loops.items():
            self.open_loops.setdefault(offered, []).extend(runs)
        self.post_rates += other.post_rates
        self.closed_s += other.closed_s
        self.posted_s += other.posted_s


def measure_journal(
    journal: Generated,
    name: str,
    scratch: Path,
    sizes: Sizes,
    progress: Progress,
    *,
    command: list[str] | None = None,
) -> Measured:
    measured = Measured()
    progress(f"http: a copy of {Path(journal.path).name}; trueup serve ({name}) on it")
    with (
        serving.working_copy(journal, scratch) as copy,
        running_server(copy, scratch / f"serve-{name}.log", sizes.workers, command) as server,
    ):
        progress(
            f"http: {sizes.workers} serving process(es) in {server.starts[0]:.1f} s; "
            f"load from {load_tool()}"
        )

        def run(paths: list[str], connections: int, *, fresh: bool = False) -> Load:
            result = load(server.base, paths, connections, sizes.seconds, scratch, fresh=fresh)
            server.settle()
            return result

        for endpoint, paths in (
            ("can-open", can_open_paths(copy.end_ms)),
            ("positions", positions_paths()),
        ):
            load(server.base, paths, WARM_UP_CONNECTIONS, WARM_UP_S, scratch)
            server.settle()
            for connections in sizes.connections:
                progress(
                    f"http: GET /v1/{endpoint}, {connections:,} connections, "
                    f"{sizes.seconds:g} s x {sizes.repeats}"
                )
                measured.loads[endpoint, connections, False] = [
                    run(paths, connections) for _ in range(sizes.repeats)
                ]
            progress(f"http: GET /v1/{endpoint}, 1 connection, a new one per request")
            measured.loads[endpoint, 1, True] = [
                run(paths, 1, fresh=True) for _ in range(sizes.repeats)
            ]
            for offered in sizes.offered:
                progress(
                    f"http: GET /v1/{endpoint}, open loop: {offered.connections:,} connections "
                    f"x {offered.rate:g} req/s from {offered.processes} process(es), "
                    f"{offered.seconds:g} s x {sizes.repeats}"
                )
                measured.open_loops[endpoint, offered] = [
                    open_loop(server, paths, offered, scratch) for _ in range(sizes.repeats)
                ]
        after = copy.end_ms + MINUTE_MS
        progress(f"http: POST /v1/inputs, {sizes.post_inputs:,} lines x {sizes.repeats}")
        for segment in range(sizes.repeats):
            result = child(
                "post",
                base=server.base,
                segment=segment,
                count=sizes.post_inputs,
                batch=sizes.post_batch,
                after_ms=after,
            )
            measured.post_rates.append(result["inputs"] / result["seconds"])
        progress(
            f"http: closing snapshot -> POSITION_CLOSED on the stream, "
            f"{sizes.close_warm_up} + {sizes.close_samples} samples"
        )
        # A day after everything POSTed above.
        closes = child(
            "close",
            base=server.base,
            samples=sizes.close_samples,
            warm_up=sizes.close_warm_up,
            at=copy.end_ms + 24 * 60 * MINUTE_MS,
        )
        measured.closed_s, measured.posted_s = closes["closed_s"], closes["posted_s"]
    measured.start_s = server.starts[:1]
    measured.restarts = server.restarts
    return measured


def measure_beside(
    journal: Generated, scratch: Path, sizes: Sizes, progress: Progress, baseline: list[str]
) -> tuple[Measured, Measured]:
    """This checkout's figures and ``baseline``'s on the same journal: each repeat a run of
    every figure on a fresh copy, this checkout and the baseline in turn (which goes first
    alternating), so that both see the machine's load alike."""
    once = replace(sizes, repeats=1)
    this, other = Measured(), Measured()
    for repeat in range(sizes.repeats):
        turns = [("this", this, None), ("baseline", other, baseline)]
        for name, measured, command in turns[:: -1 if repeat % 2 else 1]:
            progress(f"http: repeat {repeat + 1} of {sizes.repeats}, {name}")
            measured.add(measure_journal(journal, name, scratch, once, progress, command=command))
    return this, other


# --- the report ------------------------------------------------------------------------------


def _latency(measured: Measured, key: tuple[str, int, bool], value: str) -> Stats:
    """A latency percentile of the runs that had any answer (of none, no figure)."""
    return Stats(tuple(getattr(run, value) for run in measured.loads[key] if run.answered))


def _target(connections: int) -> Target | None:
    return Target(P99_TARGET_MS, at_least=False) if connections == 1_000 else None


def _load_rows(big: Measured, small: Measured, key: tuple[str, int, bool]) -> list[Row]:
    endpoint, connections, fresh = key
    label = f"GET /v1/{endpoint}, closed loop, {connections:,} conn." + (
        ", new per request" if fresh else ""
    )
    p99 = _latency(big, key, "p99_ms")
    target = _target(connections) if p99.samples else None
    return [
        Row(f"{label}: p50", "ms", _latency(big, key, "p50_ms"), _latency(small, key, "p50_ms")),
        Row(f"{label}: p99", "ms", p99, _latency(small, key, "p99_ms"), target),
        Row(
            f"{label}: requests/s",
            "req/s",
            Stats(tuple(run.rate for run in big.loads[key])),
            Stats(tuple(run.rate for run in small.loads[key])),
        ),
    ]


def _open_loop_rows(big: Measured, small: Measured, endpoint: str, offered: Offered) -> list[Row]:
    label = (
        f"GET /v1/{endpoint}, open loop, {offered.connections:,} conn. x {offered.rate:g} req/s "
        f"({offered.per_second:,.0f} req/s offered)"
    )
    key = (endpoint, offered)

    def runs(measured: Measured, value: str) -> Stats:
        return Stats(tuple(getattr(r, value) for r in measured.open_loops[key] if r.answered))

    def rate(measured: Measured, value: Callable[[Load], float]) -> Stats:
        return Stats(tuple(value(r) for r in measured.open_loops[key]))

    p99 = runs(big, "p99_ms")
    return [
        Row(f"{label}: p50", "ms", runs(big, "p50_ms"), runs(small, "p50_ms")),
        Row(
            f"{label}: p99",
            "ms",
            p99,
            runs(small, "p99_ms"),
            _target(offered.connections) if p99.samples else None,
        ),
        Row(
            f"{label}: answered/s",
            "req/s",
            rate(big, lambda r: r.answered / r.seconds),
            rate(small, lambda r: r.answered / r.seconds),
        ),
        Row(
            f"  achieved: sent/s within the {offered.seconds:g} s scheduled",
            "req/s",
            rate(big, lambda r: r.sent_rate),
            rate(small, lambda r: r.sent_rate),
        ),
        Row(
            "  the load's own lateness: p99 of a send after due (or after the answer before)",
            "ms",
            rate(big, lambda r: r.lag_p99_ms),
            rate(small, lambda r: r.lag_p99_ms),
        ),
    ]


def rows(big: Measured, small: Measured, sizes: Sizes) -> list[Row]:
    table = [
        Row(
            "trueup serve: start -> answering, caught up",
            "s",
            Stats(tuple(big.start_s)),
            Stats(tuple(small.start_s)),
        )
    ]
    for endpoint in ("can-open", "positions"):
        for connections in sizes.connections:
            table += _load_rows(big, small, (endpoint, connections, False))
        table += _load_rows(big, small, (endpoint, 1, True))
        for offered in sizes.offered:
            table += _open_loop_rows(big, small, endpoint, offered)
    table.append(
        Row(
            f"POST /v1/inputs, NDJSON x {sizes.post_batch:,}, one at a time",
            "inputs/s",
            Stats(tuple(big.post_rates)),
            Stats(tuple(small.post_rates)),
        )
    )
    samples = len(big.closed_s)
    for fraction, name in ((0.5, "p50"), (0.99, "p99")):
        table.append(
            Row(
                f"closing snapshot POSTed -> POSITION_CLOSED on the stream: {name} ({samples})",
                "ms",
                _one(percentile(big.closed_s, fraction) * 1000),
                _one(percentile(small.closed_s, fraction) * 1000),
            )
        )
    table.append(
        Row(
            "  the closing snapshot's POST answered: p50",
            "ms",
            _one(percentile(big.posted_s, 0.5) * 1000),
            _one(percentile(small.posted_s, 0.5) * 1000),
        )
    )
    return table


def _one(value: float) -> Stats:
    return Stats((value,))


Named = tuple[tuple[str, Measured], ...]


def errors_text(named: Named) -> str:
    failed = [
        f"{name} {endpoint} x{connections:,}: {sum(r.errors for r in runs):,} of "
        f"{sum(r.requests for r in runs):,}"
        for name, measured in named
        for (endpoint, connections, _), runs in measured.loads.items()
        if any(r.errors for r in runs)
    ] + [
        f"{name} {endpoint} open loop x{offered.rate:g}/s: {sum(r.errors for r in runs):,} of "
        f"{sum(r.requests for r in runs):,}"
        for name, measured in named
        for (endpoint, offered), runs in measured.open_loops.items()
        if any(r.errors for r in runs)
    ]
    if not failed:
        return "load errors (connect, read, timeout, status >= 400): none"
    return (
        "load errors (connect, read, timeout, status >= 400), counted apart from latency: "
        + "; ".join(failed)
    )


def unanswered_text(named: Named, sizes: Sizes) -> str:
    """Runs in which fewer requests were answered than there were connections: the others
    waited longer than the run, and are in no percentile."""
    short = [
        f"{name} {endpoint} x{connections:,}: {min(r.answered for r in runs):,}"
        for name, measured in named
        for (endpoint, connections, _), runs in measured.loads.items()
        if any(r.answered < connections for r in runs)
    ]
    if not short:
        return ""
    return (
        "runs answering fewer requests than connections (their percentiles are of the requests "
        f"answered within the {sizes.seconds:g} s; the rest waited longer and are left out), "
        "fewest answered: " + "; ".join(short)
    )


def open_loop_text(named: Named) -> str:
    """How many requests of the open-loop runs were still unanswered when cut, and whether
    the load kept the pace offered."""
    cut = [
        f"{name} {endpoint} x{offered.rate:g}/s: {sum(r.unanswered for r in runs):,} of "
        f"{sum(r.requests for r in runs):,}"
        for name, measured in named
        for (endpoint, offered), runs in measured.open_loops.items()
        if any(r.unanswered for r in runs)
    ]
    slow = [
        f"{name} {endpoint} x{offered.rate:g}/s: {min(r.sent_rate for r in runs):,.0f} req/s"
        for name, measured in named
        for (endpoint, offered), runs in measured.open_loops.items()
        if any(r.sent_rate < OFFERED_KEPT * offered.per_second for r in runs)
    ]
    text = (
        "open loop: each request's latency from the instant it was due (wrk2's way: a server "
        "that falls behind shows its queue); a run is cut "
        f"{DRAIN_S:g} s after its last request was due"
    )
    text += (
        ", every request answered by then"
        if not cut
        else "; requests still unanswered then count at the wait they had reached (so "
        "those percentiles are lower bounds): " + "; ".join(cut)
    )
    lateness = max(
        (r.lag_p99_ms for _, m in named for runs in m.open_loops.values() for r in runs),
        default=0.0,
    )
    text += (
        f"; the load's own lateness (send after due, or after the answer before on its "
        f"connection) at most {lateness:.1f} ms p99 in any run"
    )
    if slow:
        return (
            text + "\nsent under "
            f"{OFFERED_KEPT:.0%} of the offered pace within the schedule (each connection "
            "waits for its answer before it asks again, so a slow server holds the load back "
            "too; its own lateness above says whether it fell behind by itself): " + "; ".join(slow)
        )
    return text + f"; the load sent at the pace offered (>= {OFFERED_KEPT:.0%}) in every run"


def measure(progress: Progress, inputs: int = serving.INPUTS, sizes: Sizes = Sizes()) -> str:
    """Every HTTP figure; the report as text."""
    raise_open_files()
    journals = serving.cached(inputs, serving.SMALL_AUDIT_INPUTS, progress)
    load_before = os.getloadavg()
    big_name = serving.size_name(inputs)
    with tempfile.TemporaryDirectory(prefix="trueup-http-", dir=serving.CACHE_ROOT) as scratch:
        if sizes.baseline is not None:
            big, small = measure_beside(
                journals.main_big,
                Path(scratch),
                sizes,
                progress,
                checkout_command(sizes.baseline),
            )
            names = ("this", "baseline")
            columns = (f"{big_name} journal", f"{big_name}, baseline", "this/baseline")
        else:
            big = measure_journal(journals.main_big, "big", Path(scratch), sizes, progress)
            small = measure_journal(journals.main_small, "small", Path(scratch), sizes, progress)
            names = (big_name, "small")
            columns = (f"{big_name} journal", "small journal", f"{big_name}/small")
    load_after = os.getloadavg()
    named = ((names[0], big), (names[1], small))
    tool = load_tool()
    threads = "its threads: connections, up to the cores" if tool == "wrk" else "one asyncio loop"
    served = f" --workers {sizes.workers}" if sizes.workers > 1 else ""
    if os.environ.get(SERVER_ENV):
        served += f" ({os.environ[SERVER_ENV]})"
    beside = (
        ""
        if sizes.baseline is None
        else f", beside the same served by {sizes.baseline} (baseline: each repeat a fresh "
        "server and copy, this checkout and the baseline in turn, the first alternating; the "
        "small journal not measured)"
    )
    return "\n\n".join(
        [
            f"HTTP (issue 10): trueup serve{served} (its projection running) on a copy of each "
            f"journal{beside}, load from {tool} ({threads}) on 127.0.0.1; each load figure the "
            f"median [min-max] of {sizes.repeats} runs of {sizes.seconds:g} s; load average "
            f"(1, 5, 15 min) {_loads(load_before)} before, {_loads(load_after)} after "
            f"({os.cpu_count()} cores shared by the server, the load and others' work)",
            serving.table(rows(big, small, sizes), inputs, columns),
            "\n".join(
                [
                    ROWS_TEXT,
                    errors_text(named),
                    *filter(None, [unanswered_text(named, sizes)]),
                    open_loop_text(named),
                    "after each load run, the requests it left queued are answered before the "
                    "next (its clients gone, the server answers them all); a backlog of more "
                    f"than {SETTLE_S:g} s was ended by restarting the server: "
                    + ", ".join(f"{m.restarts} times ({name})" for name, m in named),
                    "reads go through a pool of readers, can-open's facts and the positions "
                    "documents kept while the journal's end stands (a request still asks the "
                    "end: one query)",
                    f"can-open: {len(serving._queries())} questions in turn, as of the "
                    f"journal's end; positions: one held position each of the {ACCOUNTS} "
                    "accounts in turn",
                    f"POST: {sizes.post_inputs:,} new lines per run (trade cycles, "
                    "serving.ingest_lines), detectors on in the server; closing snapshot: "
                    f"{sizes.close_warm_up} warm-up samples left out",
                ]
            ),
            f"journals: {journals.directory} (serving's cache; small = the 1M's holdings alone)",
        ]
    )


def _loads(averages: tuple[float, float, float]) -> str:
    return "/".join(f"{load:.1f}" for load in averages)


if __name__ == "__main__":
    serving.child_main(CHILD_WORK, sys.argv[1:])
