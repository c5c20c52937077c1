"""POST /v1/inputs throughput by which serving process answers (issue 10): one process,
then ``serve --workers 2`` with the connection held to the process running the partitions,
and to the other. Each run a fresh server on a fresh copy of the 20,000-input journal,
the three placements alternating; its rate, and the CPU seconds each serving process spent.

``python -m bench.post_placement [--runs 3] [--lines 10000] [--baseline TRUEUP]``: with
``--baseline``, another checkout's ``trueup`` script serves every other run, the previous
code measured beside this one's (TRUEUP_BENCH_SERVER, else, serves every run).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import httpx

from bench import serving
from bench.http import QUICK_INPUTS, REQUEST_TIMEOUT_S, SERVER_ENV, TOKEN, Server, running_server
from bench.serving import MINUTE_MS, Generated

BATCH = 1_000  # lines per POST, as bench/http.py sends them
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class Placement(Enum):
    ONE_PROCESS = "one process"
    TO_HOLDER = "--workers 2, to the process running the partitions"
    TO_OTHER = "--workers 2, to the other process"


@dataclass(frozen=True)
class Run:
    rate: float  # inputs/s
    answering_cpu_s: float  # the process the connection reached
    other_cpu_s: float  # the other serving process (0 with one)
    detected: bool  # every POST's answer said its detection was over


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def serving_processes(server: Server) -> list[int]:
    """The one process answering, without --workers."""
    assert server.process is not None
    return [server.process.pid]


def holder(server: Server) -> tuple[int, int]:
    """The serving process that runs every partition and the other, once both have answered
    (asked on fresh connections: the kernel hands each to one of them)."""
    seen: dict[int, int] = {}
    for _ in range(2_000):
        with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S) as client:
            health = client.get("/health").json()
        seen[int(health["process"])] = len(health["projection"]["partitions_held"])
        running = [pid for pid, held in seen.items() if held == 16]
        if len(seen) >= 2 and running:
            return running[0], next(pid for pid in seen if pid != running[0])
        time.sleep(0.01)
    raise RuntimeError(f"not two processes, one running every partition: {seen}")


@contextmanager
def client_of(server: Server, pid: int) -> Iterator[httpx.Client]:
    """A keep-alive client whose one connection process ``pid`` answers."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    for _ in range(400):
        client = httpx.Client(
            base_url=server.base,
            timeout=REQUEST_TIMEOUT_S * 10,
            headers=headers,
            limits=httpx.Limits(max_connections=1),
        )
        if client.get("/health").json()["process"] == pid:
            try:
                yield client
            finally:
                client.close()
            return
        client.close()
        time.sleep(0.01)
    raise RuntimeError(f"no connection reached process {pid}")


def one_run(journal: Generated, scratch: Path, placement: Placement, lines: int) -> Run:
    workers = 1 if placement is Placement.ONE_PROCESS else 2
    with (
        serving.working_copy(journal, scratch) as copy,
        running_server(copy, scratch / "serve.log", workers) as server,
    ):
        if workers == 1:
            processes = serving_processes(server)
            target = processes[0]
        else:
            # serve's children, its multiprocessing resource tracker left out.
            processes = list(holder(server))
            target = processes[0 if placement is Placement.TO_HOLDER else 1]
        others = [pid for pid in processes if pid != target]
        bodies = [
            b"\n".join(part)
            for part in _batches(serving.ingest_lines(0, lines, copy.end_ms + MINUTE_MS))
        ]
        with client_of(server, target) as client:
            before = {pid: cpu_seconds(pid) for pid in processes}
            begin = time.perf_counter()
            detected = True
            for body in bodies:
                answer = client.post("/v1/inputs", content=body)
                answer.raise_for_status()
                detected = detected and answer.json()["detected"]
            seconds = time.perf_counter() - begin
            after = {pid: cpu_seconds(pid) for pid in processes}
    spent = {pid: after[pid] - before[pid] for pid in processes}
    return Run(lines / seconds, spent[target], sum(spent[pid] for pid in others), detected)


def _batches(lines: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(lines), BATCH):
        yield lines[start : start + BATCH]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.post_placement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument(
        "--baseline",
        metavar="TRUEUP",
        help="another checkout's trueup script: each run of it alternates with this one's",
    )
    args = parser.parse_args(argv)
    journals = serving.cached(QUICK_INPUTS, serving.SMALL_AUDIT_INPUTS, print)
    servers = [args.baseline, None] if args.baseline else [os.environ.get(SERVER_ENV)]
    runs: dict[tuple[str | None, Placement], list[Run]] = {}
    loads = []
    with tempfile.TemporaryDirectory(prefix="trueup-post-", dir=serving.CACHE_ROOT) as scratch:
        for number in range(args.runs):
            for script in servers:
                _serve_with(script)
                for placement in Placement:
                    loads.append(os.getloadavg()[0])
                    run = one_run(journals.main_big, Path(scratch), placement, args.lines)
                    runs.setdefault((script, placement), []).append(run)
                    print(f"run {number + 1}, {script}, {placement.value}: {run}", file=sys.stderr)
    print(
        f"POST /v1/inputs, {args.lines:,} lines in NDJSON x {BATCH:,}, one at a time, on a copy "
        f"of the {QUICK_INPUTS:,}-input journal; medians of {args.runs}, each server's runs "
        f"alternating; load average (1 min) {min(loads):.1f}-{max(loads):.1f}"
    )
    for (script, placement), found in runs.items():
        rate = statistics.median(r.rate for r in found)
        answering = statistics.median(r.answering_cpu_s for r in found)
        other = statistics.median(r.other_cpu_s for r in found)
        rates = ", ".join(f"{r.rate:,.0f}" for r in found)
        print(
            f"| {script or 'this checkout'} | {placement.value} | {rate:,.0f} inputs/s ({rates}) "
            f"| CPU {answering:.2f} s + {other:.2f} s | detected {all(r.detected for r in found)} |"
        )


def _serve_with(script: str | None) -> None:
    """Serve with ``script`` (another checkout's trueup), or with this checkout's."""
    if script is None:
        os.environ.pop(SERVER_ENV, None)
    else:
        os.environ[SERVER_ENV] = script


if __name__ == "__main__":
    main(sys.argv[1:])
