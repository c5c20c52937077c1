"""A real `trueup serve` application on a free 127.0.0.1 port, in a thread of the test, and
what the HTTP tests send it."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.inputs import line, position_snapshot
from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import Journal
from trueup.runners.http_api import ApiSettings, create_app
from trueup.runners.http_server import listening_socket, server

Labels = dict[str, str]
TOKEN = "test-token-not-a-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"
# The sample's last instant: the server's clock stands there, as `make sample` judges.
SAMPLE_END = 1_762_199_335_000


def closing_snapshot(at: int) -> bytes:
    """A complete REST snapshot in which the exchange holds nothing at all."""
    return line(position_snapshot(at))


@contextmanager
def running_server(
    journal: Journal, settings: ApiSettings, clock: Clock, port: int = 0
) -> Iterator[str]:
    """Serve ``journal`` until the block ends, as `trueup serve` does (the projection
    included); yields the base URL. ``port`` 0: a free one."""
    sock = listening_socket("127.0.0.1", port)
    port = sock.getsockname()[1]
    served = server(create_app(journal, settings, clock), log_level="warning")
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def serve_process(
    store: str, *args: str, stdout: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`trueup --store STORE serve --port 0 ARGS` in a process of its own, with the token in
    its environment: the process (its stderr a pipe; its stdout ``stdout``), and its URL once
    it says it serves."""
    env = os.environ | {"TRUEUP_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "serve"]
    process = subprocess.Popen(
        [*command, "--port", "0", *args], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    for text in process.stderr:
        if "serving the journal on " in text:
            return process, text.strip().rpartition(" ")[2]
    process.wait(timeout=30)
    raise AssertionError(f"trueup serve exited {process.returncode} before serving")


class Scrape:
    """One /metrics answer, parsed: each sample's value by name and labels."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` with exactly ``labels``; None if there is none."""
        for family in self.families.values():
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return None

    def kind(self, family: str) -> str:
        return str(self.families[family].type)

    def labelled(self, name: str) -> list[Labels]:
        return [s.labels for f in self.families.values() for s in f.samples if s.name == name]


def scrape(api: httpx.Client) -> Scrape:
    reply = api.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    return Scrape(reply.text)
