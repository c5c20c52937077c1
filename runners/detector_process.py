"""A second process that runs the detectors while ``trueup ingest`` stores a large capture.

Ingest is two halves, each bound to one core: decoding and storing the lines, and folding
and judging them. In one process they take turns; here a ``trueup worker`` beside the
ingest takes the projections' leases and follows the journal while the ingest appends, so
the halves run at once. What it emits is what the ingest's own detectors would have: the
same rules over the same inputs, in the same order (the reconciler is pure).

It is a worker like any other: its leases, its snapshot at a clean stop, kill -9 safe. It
stops, as on SIGTERM, when the ingest that started it dies (Linux's parent-death signal,
which it asks for itself: runners/signals.py), and should it die first, the ingest runs
the detectors itself over what the worker left. The ingest ends once the worker has
recorded all and let its leases go; the worker's snapshots follow (0.2 s of the bench's
10,000 positions), for a few seconds at most on a busy store, and a failure among them
costs only a longer next start.
"""

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO

from trueup.adapters.store.journal import Journal
from trueup.adapters.store.lease import Lease
from trueup.application.answers import IngestReport
from trueup.application.emitted_count import EmittedCount
from trueup.application.ingest import IngestCount
from trueup.application.service import TrueupService
from trueup.projections.partitions import ALL, tracked_position, tracker
from trueup.runners import capture_files
from trueup.runners.signals import STOP_WITH_PARENT

# A capture this large is worth a second process: below it, starting one (about 0.25 s, most
# of it importing trueup, then its state loaded from the last snapshot) costs about what the
# halves running at once save. Measured on the bench's lines (650 bytes each), medians of 5-7
# runs, the second process's speed-up into the 1M journal / into an empty one: 1.00x / 0.76x
# at 4 MB, 1.06x / 1.15x at 8 MB, 1.13x / 1.29x at 10 MB, 1.28x / 1.35x at 16 MB.
AUTO_BYTES = 10 * 1024 * 1024
POLL_S = 0.005  # how often the ingest looks whether the worker has caught up
POLL_MS = 10  # how often the worker looks for new inputs
STOP_TIMEOUT_S = 60.0
LOG_TAIL = 2000  # characters of a failed worker's log shown
COMMAND = (sys.executable, "-m", "trueup.runners.cli")  # trueup, its options then follow


log = logging.getLogger("trueup.ingest")


def ingest_beside(
    service: TrueupService,
    captures: Iterable[Iterable[bytes]],
    progress: IngestCount | None = None,
) -> IngestReport:
    """Append the captures while a second process runs the detectors over them; should it
    stop first, the detectors here take over from where it left off. ``progress`` as
    ``TrueupService.ingest``'s."""
    journal = service.journal
    start = journal.last_position()
    # As one process counts what its detectors emit: the captures' inputs, and those they
    # find undetected (the rules --rules just recorded, what --no-projections left). Not
    # another ingest's meanwhile, which that one counts should it detect them itself. The
    # backlog is known by its inputs' keys, from the journal's rows: decoding its inputs is
    # the worker's work, and doing it here as well would cost as much again.
    backlog = journal.input_keys(tracked_position(journal), start)
    ours: set[str] = set()
    with DetectorProcess(journal) as detectors:
        report = service.ingest(
            captures, detect=False, on_input=lambda e: ours.add(e.input_id), progress=progress
        )
        # Counted as it is recorded, while this process waits for the worker to catch up:
        # counted all at once after, it took 0.08 s of a 30,000-input ingest's 1.3 s. The
        # journal records in position order (on PostgreSQL, its table locked for writes),
        # so what a read finds later lies after what it found.
        count = EmittedCount(journal, ours, start, backlog)
        finished = detectors.caught_up(journal, report.last_stored, meanwhile=count.read)
        if finished:
            # The rest counted while it stops (its last snapshot, on the other core): what it
            # emitted for these inputs is stored, and its stop can add nothing to them.
            detectors.stop()
            count.read()
            emitted = count.by_type()
    if not finished:
        log.warning(
            "the detector process failed (%s): the detectors run in this process instead",
            detectors.failure or "it stopped before it had caught up",
        )
        service.detect()
        emitted = service.emitted_for(ours, start, backlog)
    elif detectors.failure is not None:
        log.warning("the detector process failed once caught up: %s", detectors.failure)
    return replace(report, emitted=emitted)


def available() -> bool:
    """Whether a second process can run beside this one: on Linux, whose parent-death signal
    keeps a killed ingest from leaving its worker behind."""
    return sys.platform == "linux"


def worth_it(files: list[Path]) -> bool:
    """Whether a second process would pay: a second core for it, and captures of these
    files large enough (AUTO_BYTES; a gzip'd one by its lines, standard input not known)."""
    if (os.cpu_count() or 1) < 2:
        return False
    return sum(capture_files.size(path) for path in files) >= AUTO_BYTES


def leases_free(journal: Journal) -> bool:
    """Whether no process runs any of the projections (else they detect, as for any ingest)."""
    return _all_free(journal.leases([tracker(n) for n in ALL]).values())


def _all_free(leases: Iterable[Lease]) -> bool:
    """Whether nobody holds any of these leases: each is taken, and let go again, to see."""
    for lease in leases:
        if not lease.acquire():
            return False
        lease.release()
    return True


class DetectorProcess:
    """``trueup worker`` on the ingest's journal, started on entry, stopped on exit."""

    def __init__(self, journal: Journal) -> None:
        if journal.url is None:
            raise ValueError("a detector process needs a journal opened from a store URL")
        self.store_url = journal.url
        # The ingest's --give-up-after: a worker waiting on a busy journal for ever would
        # keep the ingest, waiting for it to catch up, there for ever too.
        self.give_up_after_s = journal.give_up_after_s
        # The projections' leases, made once: asked whether the worker has let them go.
        self._leases = list(journal.leases([tracker(n) for n in ALL]).values())
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        # Once stopped: what it said, had it exited with an error.
        self.failure: str | None = None

    def __enter__(self) -> "DetectorProcess":
        _reap_finishing()
        self._log = tempfile.TemporaryFile()
        # The store by the environment, not the command line: a PostgreSQL URL may hold a
        # password, and any user on the machine can list a process's arguments.
        environment = {
            **os.environ,
            "TRUEUP_STORE": self.store_url,
            STOP_WITH_PARENT: str(os.getpid()),
        }
        self._process = subprocess.Popen(
            self._command(),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        return self

    def _command(self) -> list[str]:
        """The worker's command line: the store's settings the ingest was given, but its URL
        (in the environment)."""
        limit = self.give_up_after_s
        waits = () if limit is None else ("--give-up-after", repr(limit))
        return [*COMMAND, *waits, "worker", "--poll-ms", str(POLL_MS)]

    def caught_up(
        self, journal: Journal, position: int, meanwhile: Callable[[], object] = lambda: None
    ) -> bool:
        """Wait until the worker has processed the journal up to ``position``, calling
        ``meanwhile`` between looks; False if it stopped first (the caller detects what it
        left)."""
        while tracked_position(journal) < position:
            if not self.running:
                return False
            meanwhile()
            time.sleep(POLL_S)
        return True

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Ask the worker to stop as SIGTERM stops any, without waiting for it (``__exit__``
        waits)."""
        if self._process is not None and self._process.poll() is None and not self._stopping:
            self._process.send_signal(signal.SIGTERM)
            self._stopping = True  # once: a second SIGTERM would only be logged again

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the worker as SIGTERM stops any: it records what it processed, lets its
        leases go, then snapshots what a restart would find dear to replay. Waited for until
        it has let its leases go, not for its snapshots: those go on after the ingest."""
        process = self._process
        self.stop()
        if process is not None:
            self._wait_let_go(process)
        if self._log is not None:
            if process is not None and process.returncode not in (None, 0, -signal.SIGTERM):
                self._log.seek(0)
                said = self._log.read().decode(errors="replace").strip()
                self.failure = f"{_ended(process.returncode)}; its log ends: {said[-LOG_TAIL:]}"
            self._log.close()

    def _wait_let_go(self, process: "subprocess.Popen[bytes]") -> None:
        """Until the worker has exited or let every lease go; killed after STOP_TIMEOUT_S."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process.poll() is None:
            if _all_free(self._leases):
                _FINISHING.append(process)  # its snapshots: reaped later, never waited for
                return
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                return
            time.sleep(POLL_S)


# Workers that had let their leases go when their ingest ended, still saving snapshots.
_FINISHING: list["subprocess.Popen[bytes]"] = []


def _reap_finishing() -> None:
    """Forget those that have exited since (each poll reaps one)."""
    _FINISHING[:] = [p for p in _FINISHING if p.poll() is None]


def _ended(returncode: int | None) -> str:
    """How a process ended, as an operator reads it: ``killed by SIGKILL``, ``exit 3``."""
    if returncode is not None and returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit {returncode}"
