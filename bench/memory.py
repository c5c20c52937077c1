"""Peak memory as the journal grows: each step in a fresh process (bench/probe.py).

For each size: ingest that many capture lines into a fresh SQLite journal, then read it
back (decode only), then fold it. The figure is the peak resident set size reached during
the work minus the resident set size just before it.
"""

import subprocess
import sys
from dataclasses import dataclass

import orjson

KB_PER_MB = 1024


@dataclass(frozen=True)
class Probe:
    """What one probe process reported."""

    growth_mb: float
    done: int


@dataclass(frozen=True)
class MemoryRow:
    """Peak memory growth of ingest, read and fold at one journal size."""

    inputs: int
    ingest: Probe
    read: Probe
    fold: Probe


def probe(work: str, url: str, count: int) -> Probe:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.probe", work, url, str(count)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = orjson.loads(completed.stdout)
    growth_kb = max(0, figures["peak_kb"] - figures["before_kb"])
    return Probe(growth_kb / KB_PER_MB, figures["done"])


def memory_row(url: str, inputs: int) -> MemoryRow:
    """Ingest ``inputs`` lines into the empty store at ``url``, then read and fold it."""
    ingested = probe("ingest", url, inputs)
    if ingested.done != inputs:
        raise RuntimeError(f"ingest stored {ingested.done} of {inputs} inputs")
    return MemoryRow(inputs, ingested, probe("read", url, inputs), probe("fold", url, inputs))


SLACK_MB = 8.0


def flat(values: list[float], sizes: list[int], slack_mb: float = SLACK_MB) -> bool:
    """Flat: the largest size costs no more than the smallest plus a little slack, although
    the sizes differ several times over."""
    return max(values) <= values[sizes.index(min(sizes))] + slack_mb


def memory_table(rows: list[MemoryRow]) -> str:
    sizes = [r.inputs for r in rows]
    lines = [
        f"{'inputs':>9}  {'ingest MB':>10}  {'read MB':>8}  {'fold MB':>8}  {'orders in book':>14}",
    ]
    lines += [
        f"{r.inputs:>9,}  {r.ingest.growth_mb:>10.1f}  {r.read.growth_mb:>8.1f}  "
        f"{r.fold.growth_mb:>8.1f}  {r.fold.done:>14,}"
        for r in rows
    ]
    ingest_flat = flat([r.ingest.growth_mb for r in rows], sizes)
    read_flat = flat([r.read.growth_mb for r in rows], sizes)
    fold_flat = flat([r.fold.growth_mb for r in rows], sizes)
    lines.append(
        f"target: memory flat (within {SLACK_MB:g} MB) as the journal grows -> ingest "
        f"{_verdict(ingest_flat)}, read {_verdict(read_flat)}, fold {_verdict(fold_flat)} "
        f"(the book keeps what is open and the last 10 minutes: "
        f"{_slope(rows):+.1f} MB per 10,000 events)"
    )
    return "\n".join(lines)


def _slope(rows: list[MemoryRow]) -> float:
    first, last = rows[0], rows[-1]
    events = last.inputs - first.inputs
    return (last.fold.growth_mb - first.fold.growth_mb) / events * 10_000 if events else 0.0


def _verdict(ok: bool) -> str:
    return "flat (met)" if ok else "GROWS (MISSED)"
