"""The PostgreSQL ingest figure, measured in a child process: ``python -m bench.isolated``.

A store that hangs (psycopg's pipeline mode over a Unix socket stalls on a large insert)
then costs the run a timeout and a FAILED row, not the whole benchmark. The child is
interrupted (SIGINT) on timeout, so its fresh database is still dropped.

Usage: ``python -m bench.isolated SERVER_URL INPUTS REPEATS TARGET``; prints the samples.
"""

import signal
import subprocess
import sys

import orjson

from bench.report import Figure, Target
from bench.stores import PostgresStore
from bench.throughput import ingest_figure
from bench.timing import Stats

GRACE_S = 20.0


def postgres_ingest_figure(
    server_url: str, inputs: int, repeats: int, target: float, timeout_s: float
) -> Figure:
    command = [sys.executable, "-m", "bench.isolated", server_url, str(inputs), str(repeats)]
    child = subprocess.Popen([*command, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _interrupt(child)
        failure = f"HUNG: no result in {timeout_s:.0f} s"
        return _failed(inputs, target, failure)
    if child.returncode != 0:
        return _failed(inputs, target, f"FAILED: exit status {child.returncode}")
    samples = orjson.loads(out)
    return Figure(
        what=_what(inputs),
        unit="inputs/s",
        trueup=Stats(tuple(samples["trueup"])),
        baseline=Stats(tuple(samples["baseline"])),
        target=Target(target, at_least=True),
    )


def _interrupt(child: "subprocess.Popen[str]") -> None:
    """Ctrl-C the child so its context managers drop its database; kill it if that hangs."""
    child.send_signal(signal.SIGINT)
    try:
        child.communicate(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()


def _failed(inputs: int, target: float, failure: str) -> Figure:
    return Figure(_what(inputs), "inputs/s", Stats(()), None, Target(target, True), failure)


def _what(inputs: int) -> str:
    return f"ingest PostgreSQL, {inputs:,} capture lines"


def main(argv: list[str]) -> None:
    server_url, inputs, repeats, target = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    figure = ingest_figure(PostgresStore(server_url), inputs, target, repeats)
    baseline = figure.baseline.samples if figure.baseline else ()
    sys.stdout.write(orjson.dumps({"trueup": figure.trueup.samples, "baseline": baseline}).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
