"""An ingest stopped by SIGINT or SIGTERM says how much of what it read is in the journal
and lets its leases go; the same ingest again stores the rest, none twice."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.inputs import line
from tests.scenarios import busy_session
from tests.stored_events import by_account, emitted_in, inputs_in
from trueup.adapters.store.journal import Journal
from trueup.application.ingest import BATCH
from trueup.application.service import TrueupService
from trueup.projections.reconciliation import ReconciliationProjection
from trueup.runners import capture_files, detector_process
from trueup.runners.cli import main

WRITTEN = 2 * BATCH + BATCH // 4  # two whole batches, and a quarter of one pending
STORED_WITHIN_S = 60.0
TRUEUP = Path(sys.executable).with_name("trueup")


def stored(store_url: str) -> int:
    with Journal.open(store_url) as journal:
        return len(inputs_in(journal))


@pytest.mark.parametrize("detectors", ["never", "always"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_ingest_says_what_it_stored_and_a_rerun_stores_the_rest(
    store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    signum: signal.Signals,
    detectors: str,
) -> None:
    records = busy_session(WRITTEN + 500)
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(line(r) + b"\n" for r in records))
    lines = path.read_bytes().splitlines(keepends=True)
    command = ["--store", store_url, "ingest", "--detector-process", detectors, "-"]
    ingest = subprocess.Popen(
        [TRUEUP, *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert ingest.stdin is not None and ingest.stderr is not None
    # Its standard input left open: it waits for more, mid-batch, when the signal comes.
    ingest.stdin.write(b"".join(lines[:WRITTEN]))
    ingest.stdin.flush()
    deadline = time.monotonic() + STORED_WITHIN_S
    while stored(store_url) < 2 * BATCH:
        assert ingest.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    ingest.send_signal(signum)
    assert ingest.wait(timeout=STORED_WITHIN_S) == 128 + signum
    said = ingest.stderr.read().decode()
    ingest.stdin.close()
    found = re.search(r"interrupted by (\w+) with at least ([\d,]+) of the ([\d,]+) lines", said)
    assert found is not None, said
    assert found[1] == signum.name and found[2] == f"{2 * BATCH:,}"
    assert 2 * BATCH <= int(found[3].replace(",", "")) <= WRITTEN
    with Journal.open(store_url) as journal:
        assert detector_process.leases_free(journal)
    capsys.readouterr()
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    assert f"({2 * BATCH} already in the journal)" in capsys.readouterr().out
    assert stored(store_url) == len(lines)


def test_an_ingest_interrupted_while_it_detects_emits_after_a_rerun_what_one_ingest_would(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal comes while the batch just stored is being detected: what the detectors
    applied of it is recorded nowhere, and no snapshot of that state is saved for the next
    holder to start from (it would fold those inputs twice). The rerun then emits what one
    ingest of the capture emits."""
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(line(r) + b"\n" for r in busy_session(2 * BATCH)))
    applied = 0
    apply = ReconciliationProjection._apply

    def interrupted(self: ReconciliationProjection, where: int, event: Any) -> Any:
        nonlocal applied
        applied += 1
        emitted = apply(self, where, event)
        if applied == BATCH + BATCH // 2:  # halfway through detecting the second batch
            raise KeyboardInterrupt
        return emitted

    monkeypatch.setattr(ReconciliationProjection, "_apply", interrupted)
    with Journal.open(store_url) as journal:
        captures = capture_files.Captures([path])
        with pytest.raises(KeyboardInterrupt):
            TrueupService(journal).ingest(captures)
        assert detector_process.leases_free(journal)
    monkeypatch.undo()

    assert main(["--store", store_url, "ingest", str(path)]) == 0
    once = f"sqlite://{tmp_path}/once.db"
    assert main(["--store", once, "ingest", str(path)]) == 0
    with Journal.open(store_url) as journal, Journal.open(once) as alone:
        assert by_account(emitted_in(journal)) == by_account(emitted_in(alone))
