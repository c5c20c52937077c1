"""A real HTTP server on a free 127.0.0.1 port that receives notifications, in a thread of
the test: it keeps every request, and answers each as the test tells it to (a status, after
a stall, or not at all)."""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it came in
    answered: bool  # False: the receiver hung up without an answer

    def json(self) -> dict[str, object]:
        parsed: dict[str, object] = orjson.loads(self.body)
        return parsed


@dataclass(frozen=True)
class Answer:
    """How to answer one request: ``status`` after ``stall_s``; ``hang_up``: no answer at
    all, once ``released`` is set (a test kills the sender meanwhile)."""

    status: int = 200
    stall_s: float = 0.0
    hang_up: bool = False
    released: threading.Event = field(default_factory=threading.Event)


# (path, how many requests to that path came before this one) -> how to answer it.
Answering = Callable[[str, int], Answer]


class Receiver:
    def __init__(self, answering: Answering) -> None:
        self.answering = answering
        self.received: list[Received] = []
        self.arrivals: Counter[str] = Counter()  # per path, as they come, answered or not
        self.lock = threading.Lock()
        self.url = ""

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answered(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.answered and path in (None, r.path)]

    def wait_for(self, count: int, timeout: float = 20, path: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered(path)) < count:
            assert time.monotonic() < deadline, f"{len(self.answered(path))} of {count} came"
            time.sleep(0.01)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            came = time.monotonic()
            with receiver.lock:
                before = receiver.arrivals[self.path]
                receiver.arrivals[self.path] += 1
            answer = receiver.answering(self.path, before)
            headers = {k: v for k, v in self.headers.items()}
            if answer.hang_up:
                answer.released.wait(30)
                self.close_connection = True
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, came, False))
                return
            time.sleep(answer.stall_s)
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, came, True))
            self.send_response(answer.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads what came, not a log

    return Handler


@contextmanager
def receiving(answering: Answering = lambda _path, _n: Answer()) -> Iterator[Receiver]:
    receiver = Receiver(answering)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
