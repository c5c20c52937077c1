"""`trueup serve --workers 2`: two processes answer on one port, each partition of the
projection run by exactly one of them; one killed (kill -9), the other answers on, runs its
partitions and streams events, and a new process takes the dead one's place.
"""

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.http_server import AUTH, SAMPLE_END, TOKEN, closing_snapshot, scrape, serve_process
from tests.live_harness import wait_for
from trueup.adapters.store.journal import Journal
from trueup.projections.partitions import ALL, partition_of
from trueup.runners.http_projection import ServedProjection
from trueup.runners.http_siblings import Siblings

Json = dict[str, Any]


@pytest.fixture
def served(sampled: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`trueup serve --workers 2` over the sampled journal: its URL and its process."""
    with serving(sampled) as found:
        yield found


@contextmanager
def serving(sampled: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`trueup serve --workers 2 ARGS` over the sampled journal, until the block ends."""
    process, url = serve_process(sampled, "--workers", "2", *args)
    log: list[str] = []
    # Read on, so the processes never block on a full pipe.
    reader = threading.Thread(target=lambda: log.extend(process.stderr or ()), daemon=True)
    reader.start()
    try:
        yield url, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(timeout=10)
    assert process.returncode == 0, "".join(log)
    assert TOKEN not in "".join(log)


def health_by_process(url: str, asks: int = 40) -> dict[int, Json]:
    """/health as each process answers it, asked on fresh connections at once."""

    def ask(_: int) -> Json:
        with httpx.Client(base_url=url, timeout=30) as client:
            found: Json = client.get("/health").json()
            return found

    with ThreadPoolExecutor(8) as pool:
        return {health["process"]: health for health in pool.map(ask, range(asks))}


def answering(url: str) -> dict[int, Json]:
    """Every serving process, by its id, with its /health: asked until two have answered."""
    seen: dict[int, Json] = {}

    def both() -> bool:
        seen.update(health_by_process(url))
        return len(seen) >= 2

    wait_for("two serving processes to answer", both, timeout=60)
    return seen


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_two_processes_answer_and_one_killed_leaves_the_other_serving(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = served
    seen = answering(url)
    assert set(seen) <= children(process.pid)  # the serving processes are serve's own

    def partitions_run() -> list[int]:
        by_process = health_by_process(url)
        return sorted(n for h in by_process.values() for n in h["projection"]["partitions_held"])

    # Each partition run by exactly one process.
    wait_for("every partition to be run", lambda: partitions_run() == list(ALL), timeout=30)

    with httpx.Client(base_url=url, timeout=30) as client:
        expected = client.get("/v1/positions").json()["positions"]
    runner = next(pid for pid, h in seen.items() if h["projection"]["partitions_held"])
    os.kill(runner, signal.SIGKILL)

    # Every request answered by whoever is left, as before.
    for _ in range(20):
        with httpx.Client(base_url=url, timeout=30) as client:
            reply = client.get("/v1/positions")
        assert reply.status_code == 200
        assert reply.json()["positions"] == expected

    # The dead one's partitions are taken over: a closing snapshot is detected, and the
    # POSITION_CLOSED comes down an event stream, whichever process serves it.
    with (
        httpx.Client(base_url=url, timeout=30) as client,
        httpx.Client(base_url=url, timeout=30) as streaming,
    ):
        cursor = client.get("/v1/positions").json()["cursor"]
        params = {"after": cursor, "type": "POSITION_CLOSED"}
        headers = {"Accept": "text/event-stream"}
        with streaming.stream("GET", "/v1/events", params=params, headers=headers) as stream:
            posted = client.post(
                "/v1/inputs", content=closing_snapshot(SAMPLE_END + 1_000), headers=AUTH
            )
            assert posted.status_code == 200
            # Its answer counts it, whichever process took the POST and whether the dead
            # one's partitions were taken over yet.
            assert posted.json()["detected"] is True
            assert posted.json()["emitted"]["POSITION_CLOSED"] == 1
            lines = stream.iter_lines()
            data = next(line.removeprefix("data:") for line in lines if line.startswith("data:"))
    closed = orjson.loads(data)
    assert closed["type"] == "POSITION_CLOSED"
    assert closed["position"] > cursor

    # And the dead one is replaced: two processes answer again, neither of them it.
    wait_for(
        "a process in the dead one's place",
        lambda: len(set(health_by_process(url)) - {runner}) >= 2,
        timeout=60,
    )


@contextmanager
def client_of(url: str, pid: int) -> Iterator[httpx.Client]:
    """A keep-alive client whose connection the serving process ``pid`` answers (each
    connection stays with the process that accepted it), until the block ends."""
    for _ in range(200):
        with httpx.Client(base_url=url, timeout=30) as client:
            if client.get("/health").json()["process"] == pid:
                yield client
                return
    raise AssertionError(f"no connection reached process {pid}")


def runner_and_other(url: str) -> tuple[int, int]:
    """The process running the sampled account's partition of the projection, and the other
    (one may run every partition, or they may have shared them out)."""
    main = partition_of("bybit", "main")
    found: dict[int, Json] = {}

    def settled() -> bool:
        found.update(health_by_process(url))
        held = sorted(n for h in found.values() for n in h["projection"]["partitions_held"])
        return len(found) == 2 and held == list(ALL)

    wait_for("both processes, every partition run", settled, timeout=60)
    (runner,) = [pid for pid, h in found.items() if main in h["projection"]["partitions_held"]]
    (other,) = set(found) - {runner}
    return runner, other


def test_a_posts_emitted_counts_what_the_process_running_its_partition_detected(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = served
    runner, other = runner_and_other(url)
    with client_of(url, other) as client:
        answer = client.post(
            "/v1/inputs", content=closing_snapshot(SAMPLE_END + 1_000), headers=AUTH
        ).json()
        assert client.get("/health").json()["process"] == other  # the same connection
    # Detected by the other process, counted in the answer all the same.
    assert answer["accepted"] == 1
    assert answer["emitted"]["POSITION_CLOSED"] == 1
    assert answer["detected"] is True
    with client_of(url, runner) as client:
        again = client.post(
            "/v1/inputs", content=closing_snapshot(SAMPLE_END + 2_000), headers=AUTH
        ).json()
    assert again["detected"] is True
    assert "POSITION_CLOSED" not in again["emitted"]  # closed already: nothing to close


def test_metrics_are_the_sums_of_every_process_whichever_answers(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = served
    runner, other = runner_and_other(url)
    asks = 30
    answered_by: set[int] = set()
    for _ in range(asks):  # fresh connections: the kernel spreads them over the processes
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/v1/positions").status_code == 200
            answered_by.add(client.get("/health").json()["process"])
    with client_of(url, other) as client:
        client.post("/v1/inputs", content=closing_snapshot(SAMPLE_END + 1_000), headers=AUTH)

    with client_of(url, runner) as at_runner, client_of(url, other) as at_other:

        def closed_counted() -> bool:
            found = scrape(at_runner)
            return found.value("trueup_emitted_events_total", type="POSITION_CLOSED") == 1.0

        wait_for("the POSITION_CLOSED counted", closed_counted, timeout=30)
        for client in (at_runner, at_other):
            found = scrape(client)
            count = "trueup_http_request_duration_seconds_count"
            assert found.value(count, endpoint="/v1/positions", method="GET") == asks
            assert found.value(count, endpoint="/v1/inputs", method="POST") == 1.0
            rest = {"venue": "bybit", "channel": "rest", "outcome": "accepted"}
            assert found.value("trueup_api_inputs_total", **rest) == 1.0
            # Counted once, though every process's follower saw it stored...
            assert found.value("trueup_emitted_events_total", type="POSITION_CLOSED") == 1.0
            # ...and timed once, by the process that detected it.
            latency = "trueup_detection_latency_seconds_count"
            assert found.value(latency, type="POSITION_CLOSED") == 1.0
            assert found.value("trueup_event_streams") == 0.0
    assert len(answered_by) == 2  # both processes answered some of those requests


def one_running_all(url: str) -> tuple[int, int]:
    """The process running every partition, once one does (one that runs fewer than its
    sibling lets them go to it), and the other, running none."""
    found: dict[int, Json] = {}

    def settled() -> bool:
        found.clear()
        found.update(health_by_process(url))
        held = sorted(len(h["projection"]["partitions_held"]) for h in found.values())
        return held == [0, len(ALL)]

    wait_for("one process running every partition, the other none", settled, timeout=60)
    (runner,) = [pid for pid, h in found.items() if h["projection"]["partitions_held"]]
    (other,) = set(found) - {runner}
    return runner, other


def test_a_post_to_the_process_running_no_partition_is_detected_as_it_is_stored(
    sampled: str,
) -> None:
    # Told to wait 1 ms at most for another process to detect its lines: the process the
    # POST reaches cannot leave them to the runner's next poll (every 25 ms) and still
    # answer what was detected. The runner takes the POST, and answers as to its own.
    with serving(sampled, "--max-projection-lag-ms", "1") as (url, _):
        _, other = one_running_all(url)
        with client_of(url, other) as client:
            cursor = client.get("/v1/positions").json()["cursor"]
            answer = client.post(
                "/v1/inputs", content=closing_snapshot(SAMPLE_END + 1_000), headers=AUTH
            ).json()
            assert client.get("/health").json()["process"] == other  # the same connection
            closed = client.get(
                "/v1/events", params={"after": cursor, "type": "POSITION_CLOSED"}
            ).json()["events"]
            again = client.post(
                "/v1/inputs", content=closing_snapshot(SAMPLE_END + 1_000), headers=AUTH
            ).json()
    assert answer["accepted"] == 1
    assert answer["detected"] is True
    assert answer["emitted"]["POSITION_CLOSED"] == 1
    assert [event["type"] for event in closed] == ["POSITION_CLOSED"]  # emitted once
    assert answer["inputs"][0]["input_id"] == again["inputs"][0]["input_id"]
    assert (again["accepted"], again["duplicates"]) == (1, 1)  # stored once


def test_two_serving_processes_that_shared_the_partitions_out_come_to_run_them_in_one(
    sampled: str, tmp_path: Path
) -> None:
    # As two processes started at the same instant may find them: half each.
    meeting = str(tmp_path)
    with (
        Journal.open(sampled, create=False) as first_journal,
        Journal.open(sampled, create=False) as second_journal,
    ):
        first = ServedProjection(first_journal, threading.Lock(), siblings=Siblings(meeting, pid=1))
        second = ServedProjection(
            second_journal, threading.Lock(), siblings=Siblings(meeting, pid=2)
        )
        assert first.leased.take(ALL[:8]) == list(ALL[:8])
        assert second.leased.take(ALL[8:]) == list(ALL[8:])
        first.start()
        second.start()
        try:
            # The one with the higher id lets its half go; the other takes it, and says so
            # to the siblings (at its next step: after taking, not with it).
            def settled() -> bool:
                running = Siblings(meeting, pid=3).running_all()
                held = first.leased.held == ALL and second.leased.held == ()
                return held and running is not None and running.pid == 1

            wait_for("one process to run every partition and say so", settled, timeout=30)
            assert first.lag.lost == {} and second.lag.lost == {}  # let go, not lost
        finally:
            first.stop()
            second.stop()


def test_health_says_which_partitions_each_process_runs_and_its_siblings_run(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = served
    found: dict[int, Json] = {}

    def one_runs_all_and_each_sees_the_other() -> bool:
        # Each answer is one process's at its moment: asked again until both have seen
        # the other's latest (a sibling is seen by its lease rows, not at once).
        found.update(health_by_process(url))
        held = [h["projection"]["partitions_held"] for h in found.values()]
        seen = [set(h["projection"]["siblings"]) for h in found.values()]
        return (
            len(found) == 2
            and sorted(held) == [[], list(ALL)]
            and seen == [{str(pid)} for pid in reversed(found)]
        )

    wait_for("one process to run every partition", one_runs_all_and_each_sees_the_other, 60)
    (runner,) = [pid for pid, h in found.items() if h["projection"]["partitions_held"]]
    (other,) = set(found) - {runner}
    running, standing_by = found[runner]["projection"], found[other]["projection"]
    assert running["runs_here"] is True
    assert standing_by["runs_here"] is False  # it offers to, but holds nothing
    assert standing_by["siblings"] == {str(runner): list(ALL)}
    assert running["siblings"] == {str(other): []}
