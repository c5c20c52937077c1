"""trueup processes on one journal, as the many-process tests and the soak run start and judge
them, and what one process alone emits over the same inputs, to compare with."""

import subprocess
import sys
from pathlib import Path

from tests.stored_events import emitted_in
from trueup.adapters.store.journal import Journal
from trueup.domain.events import InputEvent
from trueup.projections.reconciliation import ReconciliationProjection


def trueup(store_url: str, *args: str) -> subprocess.Popen[bytes]:
    """``trueup --store STORE_URL ARGS...``, started."""
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store_url, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def worker_command(batch: int | None = 100) -> list[str]:
    """A worker's command line after the store: quick to notice inputs and its holder's
    death; ``batch`` rows a step (None: the default)."""
    steps = [] if batch is None else ["--batch", str(batch)]
    return ["worker", "--poll-ms", "20", *steps]


def worker(store_url: str, batch: int = 100) -> subprocess.Popen[bytes]:
    return trueup(store_url, *worker_command(batch))


def finished(process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """The process's stderr once it ended by itself, which it must have done cleanly."""
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err, err.decode()
    return err.decode()


def one_process(inputs: list[InputEvent], tmp_path: Path) -> list[bytes]:
    """What a single process emits over these inputs, in this order."""
    with Journal.open(f"sqlite://{tmp_path}/reference.db") as reference:
        reference.append(inputs)
        ReconciliationProjection(reference).catch_up()
        return emitted_in(reference)
