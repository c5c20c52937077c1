"""A real `trueup serve` application on a free 127.0.0.1 port, in a thread of the test."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import Journal
from trueup.runners.http_api import ApiSettings, create_app, listening_socket

TOKEN = "test-token-not-a-secret"


@contextmanager
def running_server(journal: Journal, settings: ApiSettings, clock: Clock) -> Iterator[str]:
    """Serve ``journal`` until the block ends; yields the base URL."""
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(journal, settings, clock), lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
