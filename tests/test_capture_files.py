"""Captures as `trueup ingest` reads them: files or standard input (``-``), gzip'd or not,
told by their bytes; one cut short stores every line before the cut and says where it broke."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from trueup.runners import capture_files
from trueup.runners.cli import main
from trueup.runners.detector_process import AUTO_BYTES, worth_it

TRUEUP = Path(sys.executable).with_name("trueup")
SAMPLE = Path(__file__).parents[1] / "samples" / "bybit-session.jsonl"
SAMPLE_REPORT = "ingested 79 lines: 77 accepted, 2 rejected"


def ingest(store: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``trueup --store STORE ingest ARGS``, run as a user runs it (its output decoded)."""
    done = subprocess.run(
        [str(TRUEUP), "--store", str(store), "ingest", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def stored(store: Path) -> list[dict[str, object]]:
    """Every event the journal holds, in order, without its place in the journal (which
    depends on how the inputs were batched)."""
    listed = subprocess.run(
        [str(TRUEUP), "--store", str(store), "events", "--json"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    events = [orjson.loads(line) for line in listed.stdout.splitlines()]
    for event in events:
        event.pop("position", None)
    return events


def same_events(store: Path, other: Path) -> bool:
    """Whether two journals hold the same inputs in the same order, and the same emitted
    events (in the journal among the inputs where each ingest's batches put them)."""
    ours, theirs = stored(store), stored(other)
    return inputs(ours) == inputs(theirs) and sorted(map(orjson.dumps, ours)) == sorted(
        map(orjson.dumps, theirs)
    )


def inputs(events: list[dict[str, object]]) -> list[dict[str, object]]:
    """The inputs among stored events (those that keep their capture line)."""
    return [event for event in events if "raw" in event]


def gzipped(path: Path, lines: bytes) -> Path:
    path.write_bytes(gzip.compress(lines))
    return path


@pytest.fixture
def plain_store(tmp_path: Path) -> Path:
    """The sample ingested as it is: what every other way must store."""
    store = tmp_path / "plain.db"
    done = ingest(store, str(SAMPLE))
    assert done.returncode == 0, done.stderr
    return store


@pytest.mark.parametrize(
    "detection", [(), ("--detector-process", "always")], ids=["in-process", "detector-process"]
)
def test_a_gzipd_capture_stores_what_the_plain_one_does(
    tmp_path: Path, plain_store: Path, detection: tuple[str, ...]
) -> None:
    capture = gzipped(tmp_path / "session.jsonl.gz", SAMPLE.read_bytes())
    store = tmp_path / "gz.db"

    done = ingest(store, *detection, str(capture))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == SAMPLE_REPORT
    assert stored(store) == stored(plain_store)


def test_gzip_is_told_by_the_bytes_not_the_name(tmp_path: Path, plain_store: Path) -> None:
    named_plain = gzipped(tmp_path / "session.jsonl", SAMPLE.read_bytes())
    named_gzip = tmp_path / "session.gz"
    named_gzip.write_bytes(SAMPLE.read_bytes())

    for capture in (named_plain, named_gzip):
        store = tmp_path / f"{capture.name}.db"
        done = ingest(store, str(capture))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == SAMPLE_REPORT
        assert stored(store) == stored(plain_store)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_dash_reads_standard_input(tmp_path: Path, plain_store: Path, compress: bool) -> None:
    lines = SAMPLE.read_bytes()
    store = tmp_path / "stdin.db"

    done = ingest(store, "-", stdin=gzip.compress(lines) if compress else lines)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == SAMPLE_REPORT
    assert stored(store) == stored(plain_store)


def test_standard_input_and_files_mix_in_order(tmp_path: Path, plain_store: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(lines[:30]))
    last = gzipped(tmp_path / "last.jsonl.gz", b"".join(lines[55:]))
    store = tmp_path / "mixed.db"

    done = ingest(store, str(first), "-", str(last), stdin=b"".join(lines[30:55]))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == SAMPLE_REPORT
    assert same_events(store, plain_store)


def test_a_gzip_cut_short_stores_every_line_before_the_cut_and_says_so(
    tmp_path: Path, plain_store: Path
) -> None:
    whole = gzip.compress(SAMPLE.read_bytes())
    capture = tmp_path / "session.jsonl.gz"
    capture.write_bytes(whole[: len(whole) // 2])
    store = tmp_path / "cut.db"

    cut = ingest(store, str(capture))

    assert cut.returncode == 2
    assert cut.stderr == (
        f"trueup: capture {capture} could not be read to its end: it ends before its gzip "
        "stream does (cut short?); every line before it was ingested\n"
    )
    report = cut.stdout.splitlines()[0]
    taken = int(report.split()[1])
    assert 0 < taken < 79, report
    # What was stored is the start of the capture, no line of it broken off midway.
    assert inputs(stored(store)) == inputs(stored(plain_store))[:taken]

    capture.write_bytes(whole)  # the whole capture again: only the rest goes in
    rest = ingest(store, str(capture))

    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.splitlines()[0] == f"{SAMPLE_REPORT} ({taken} already in the journal)"
    assert same_events(store, plain_store)


def test_a_damaged_gzip_is_one_line_and_exit_2(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(SAMPLE.read_bytes()))
    whole[len(whole) // 2] ^= 0xFF  # a flipped byte inside the deflate stream
    capture = tmp_path / "damaged.jsonl.gz"
    capture.write_bytes(bytes(whole))

    done = ingest(tmp_path / "journal.db", str(capture))

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"trueup: capture {capture} could not be read to its end: ")
    assert line.endswith("; every line before it was ingested")


def test_standard_input_can_be_named_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(["--store", str(tmp_path / "journal.db"), "ingest", "-", "-"])

    assert code == 2
    assert capfd.readouterr().err == "trueup: standard input (-) can be read only once\n"
    assert not (tmp_path / "journal.db").exists()  # refused before a journal was made


def test_a_gzipd_capture_is_weighed_by_its_lines(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes()
    repeated = lines * (AUTO_BYTES // len(lines) + 1)  # past the threshold, once decompressed
    capture = gzipped(tmp_path / "big.jsonl.gz", repeated)

    assert capture.stat().st_size < AUTO_BYTES
    assert capture_files.size(capture) == len(repeated)
    assert capture_files.size(SAMPLE) == len(lines)
    assert capture_files.size(Path("-")) == 0  # standard input: not known beforehand


def test_auto_chooses_a_detector_process_for_a_large_gzipd_capture(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes()
    capture = gzipped(tmp_path / "big.jsonl.gz", lines * (AUTO_BYTES // len(lines) + 1))
    small = gzipped(tmp_path / "small.jsonl.gz", lines)

    assert worth_it([capture]) is ((os.cpu_count() or 1) >= 2)
    assert worth_it([small]) is False
