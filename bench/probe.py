"""One piece of work in a fresh process, and the memory it took: ``python -m bench.probe``.

Usage: ``python -m bench.probe ingest|read|fold STORE_URL COUNT``. Prints one JSON object:
the resident set size before the work and the peak during it, in kilobytes. ``ingest``
makes its capture lines lazily, so the input itself takes no memory.
"""

import resource
import sys
from collections.abc import Callable

import orjson

from bench.workload import ACCOUNT, VENUE, capture_lines
from trueup.adapters.store.journal import Journal
from trueup.application.ingest import Ingestor
from trueup.domain.book import fold

Work = Callable[[Journal, int], int]


def ingest(journal: Journal, count: int) -> int:
    return Ingestor(journal).ingest(capture_lines(count, clock=False)).accepted


def read(journal: Journal, _count: int) -> int:
    return sum(1 for _ in journal.account_events(VENUE, ACCOUNT))


def fold_book(journal: Journal, _count: int) -> int:
    return len(fold(VENUE, ACCOUNT, journal.account_events(VENUE, ACCOUNT)).orders)


WORK: dict[str, Work] = {"ingest": ingest, "read": read, "fold": fold_book}


def status_kb(field: str) -> int | None:
    """A field of /proc/self/status in kB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> None:
    """Start the peak (VmHWM) afresh from the current RSS (Linux 4.0+: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def peak_rss_kb() -> int:
    """The peak RSS of this process image. Not ru_maxrss where /proc has VmHWM: on Linux
    ru_maxrss survives exec, so a child started by a big parent reports the parent's peak."""
    peak = status_kb("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def main(argv: list[str]) -> None:
    work, url, count = WORK[argv[0]], argv[1], int(argv[2])
    with Journal.open(url) as journal:
        reset_peak()
        before = status_kb("VmRSS") or peak_rss_kb()
        done = work(journal, count)
        peak = peak_rss_kb()
    sys.stdout.write(orjson.dumps({"before_kb": before, "peak_kb": peak, "done": done}).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
