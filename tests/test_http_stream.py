"""`GET /v1/events` as a live stream (Server-Sent Events) from a real server: what is stored
arrives, whoever stored it; Last-Event-ID resumes exactly; a client that stops reading is
dropped without holding up the others. On SQLite and on PostgreSQL, over the Bybit sample.
"""

import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.http_server import AUTH, SAMPLE_END, TOKEN, closing_snapshot, running_server
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.client import Event
from trueup.client.documents import EventReader
from trueup.projections.partitions import ALL
from trueup.runners.http_api import ApiSettings
from trueup.runners.http_stream import StreamSettings

STREAM = {"Accept": "text/event-stream"}
# A short heartbeat, so that a listener told to stop notices within a fraction of a second.
SETTINGS = ApiSettings(token=TOKEN, stream=StreamSettings(buffer=16, heartbeat_s=0.2))


@pytest.fixture
def served(sampled: str) -> Iterator[httpx.Client]:
    """A client of a server over the sampled journal, once the server runs the projection."""
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, SETTINGS, lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        wait_for_the_leases(client)
        yield client


def wait_for_the_leases(client: httpx.Client) -> None:
    """Until the server runs every partition of the projection."""
    deadline = time.monotonic() + 10
    while len(client.get("/health").json()["projection"]["partitions_held"]) < len(ALL):
        assert time.monotonic() < deadline, "the server took no lease of the projection"
        time.sleep(0.02)


def journal_end(client: httpx.Client) -> int:
    """The last event's position: a stream from there has only what comes next."""
    after = 0
    while page := client.get("/v1/events", params={"after": after, "limit": 2000}).json():
        if not page["events"]:
            return after
        after = page["next_after"]
    raise AssertionError("unreachable")


class Listener:
    """A stream's client in a thread of its own, handing on each event it reads."""

    def __init__(self, client: httpx.Client, params: dict[str, Any], **headers: str) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.heartbeats = 0
        self.ended = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, args=(client, params, STREAM | headers), daemon=True
        )
        self._thread.start()

    def _listen(self, client: httpx.Client, params: dict[str, Any], headers: Any) -> None:
        reader = EventReader()
        with client.stream("GET", "/v1/events", params=params, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if self._stop.is_set():
                    break
                self.heartbeats += line == ": alive"
                event = reader.line(line)
                if event is not None:
                    self.events.put(event)
        self.ended.set()

    def until(self, wanted: Callable[[Event], bool], timeout: float = 20) -> list[Event]:
        """The events read up to and including the first ``wanted`` one."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while not seen or not wanted(seen[-1]):
            seen.append(self.events.get(timeout=max(0.0, deadline - time.monotonic())))
        return seen

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def listening(served: httpx.Client) -> Iterator[Callable[..., Listener]]:
    """Listeners on the served journal, each stopped at the end of the test."""
    started: list[Listener] = []

    def listen(params: dict[str, Any], **headers: str) -> Listener:
        started.append(Listener(served, params, **headers))
        return started[-1]

    yield listen
    for listener in started:
        listener.stop()


def test_a_posted_closing_snapshot_s_position_closed_arrives(
    served: httpx.Client, listening: Callable[..., Listener]
) -> None:
    end = journal_end(served)
    closes = listening({"after": end, "type": "POSITION_CLOSED"})
    everything = listening({"after": end})
    posted = served.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
    assert posted.json()["emitted"] == {"COOLDOWN_STARTED": 1, "POSITION_CLOSED": 1}
    (closed,) = closes.until(lambda e: e.type == "POSITION_CLOSED")
    assert closed.data["symbol"] == "XRPUSDT"
    assert closed.data["at_iso"] == "2025-11-03T19:48:54.000Z"
    (input_id,) = [line["input_id"] for line in posted.json()["inputs"]]
    seen = everything.until(lambda e: e.type == "COOLDOWN_STARTED")
    assert [e.type for e in seen] == ["PositionsReported", "POSITION_CLOSED", "COOLDOWN_STARTED"]
    assert seen[0].data["input_id"] == input_id
    # Each is the JSON page's event, its position the SSE id.
    page = served.get("/v1/events", params={"after": end}).json()["events"]
    assert [e.data for e in seen] == page


def test_last_event_id_resumes_with_exactly_the_events_after(
    served: httpx.Client, listening: Callable[..., Listener]
) -> None:
    page = served.get("/v1/events", params={"after": 0, "limit": 2000}).json()["events"]
    cursor = page[60]["position"]
    # The header wins over the query: a reconnecting EventSource keeps its first URL.
    resumed = listening({"after": 0}, **{"Last-Event-ID": str(cursor)})
    seen = resumed.until(lambda e: e.position == page[-1]["position"])
    assert [e.data for e in seen] == page[61:]
    served.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
    after = resumed.until(lambda e: e.type == "COOLDOWN_STARTED")
    assert [e.position for e in after] == sorted({e.position for e in after})
    assert after[0].position > page[-1]["position"]


def test_what_another_process_appends_arrives_and_is_reconciled_here(
    served: httpx.Client, sampled: str, listening: Callable[..., Listener]
) -> None:
    listener = listening({"after": journal_end(served)})
    with Journal.open(sampled, create=False) as elsewhere:
        report = TrueupService(elsewhere).ingest([[closing_snapshot(SAMPLE_END - 1_000)]])
    # The server holds the projection's leases, so the detectors ran there, not here...
    assert (report.accepted, report.detected_here, report.emitted) == (1, False, {})
    seen = listener.until(lambda e: e.type == "COOLDOWN_STARTED")
    # ...and what they emitted reached the stream all the same.
    assert [e.type for e in seen] == ["PositionsReported", "POSITION_CLOSED", "COOLDOWN_STARTED"]
    metrics = served.get("/metrics").text
    assert 'trueup_emitted_events_total{type="POSITION_CLOSED"} 1.0' in metrics


def test_an_idle_stream_says_it_is_alive(
    served: httpx.Client, listening: Callable[..., Listener]
) -> None:
    listener = listening({"after": journal_end(served)})
    deadline = time.monotonic() + 10
    while listener.heartbeats < 2:
        assert time.monotonic() < deadline, "no heartbeat on an idle stream"
        time.sleep(0.05)


def test_a_stalled_client_is_dropped_and_holds_up_no_one(
    served: httpx.Client, listening: Callable[..., Listener]
) -> None:
    end = journal_end(served)
    stalled = stalled_stream(str(served.base_url), end)
    reading = listening({"after": end})
    # Large events (rejected lines keep what was sent), so the socket buffers fill soon.
    for batch in range(200):
        lines = [b"%d-%d " % (batch, n) + b"x" * 20_000 for n in range(40)]
        report = served.post("/v1/inputs", content=b"\n".join(lines), headers=AUTH).json()
        last = report["inputs"][-1]["input_id"]
        seen = reading.until(input_of(last))
        assert len(seen) == 40  # the reader keeps up, every event of the batch
        if "trueup_event_streams_dropped_total 1.0" in served.get("/metrics").text:
            break
    else:
        raise AssertionError("the stalled client was never dropped")
    assert "trueup_event_streams 1.0" in served.get("/metrics").text  # the reader, alone
    assert closed_by_the_server(stalled)


def input_of(input_id: str) -> Callable[[Event], bool]:
    return lambda event: event.data.get("input_id") == input_id


def stalled_stream(base_url: str, after: int) -> socket.socket:
    """A stream's client that never reads past the headers: a small receive buffer."""
    match = re.fullmatch(r"http://([\d.]+):(\d+)", base_url)
    assert match
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((match[1], int(match[2])))
    request = (
        f"GET /v1/events?after={after} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


def closed_by_the_server(sock: socket.socket) -> bool:
    """Read what the stalled client was sent: the server has closed it if it ends."""
    sock.settimeout(10)
    try:
        while sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    finally:
        sock.close()
    return True


def test_a_stream_s_data_is_the_page_s_json(served: httpx.Client) -> None:
    """Each frame is three lines: id (the position), event (the type), data (one JSON line)."""
    with served.stream("GET", "/v1/events", params={"after": 0}, headers=STREAM) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(lines) == ""
        frame = [next(lines) for _ in range(3)]
    first = served.get("/v1/events", params={"after": 0, "limit": 1}).json()["events"][0]
    assert frame == [
        f"id: {first['position']}",
        f"event: {first['type']}",
        f"data: {orjson.dumps(first).decode()}",
    ]


def test_a_journal_that_gives_up_is_told_in_one_line_per_poll_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store's retrying gave up (`serve --give-up-after S` behind a table lock): the
    follower says so in a line, as the projection does, and polls again."""
    import asyncio

    from trueup.adapters.store.location import StoreError
    from trueup.application.answers import EventPage
    from trueup.runners.http_stream import JournalFollower, StreamSettings

    def busy() -> int:
        raise StoreError("journal at x: busy for 5.0 s, giving up")

    def unread(position: int, limit: int) -> EventPage:
        raise AssertionError("nothing is read while the end cannot be")

    async def follow_a_while() -> None:
        follower = JournalFollower(busy, unread, StreamSettings(poll_s=0.01))
        follower.start()
        await asyncio.sleep(0.1)
        await follower.stop()

    asyncio.run(follow_a_while())
    told = [r for r in caplog.records if "following the journal" in r.getMessage()]
    assert told and all(r.exc_info is None for r in told)
    assert "busy for 5.0 s, giving up" in told[0].getMessage()
