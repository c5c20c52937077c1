"""The figures as a table: trueup beside its baseline, with the target each one answers to."""

from collections.abc import Sequence
from dataclasses import dataclass

from bench.timing import Stats


@dataclass(frozen=True)
class Target:
    """A bound the median must meet: at least (rates) or at most (durations, memory)."""

    bound: float
    at_least: bool

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def text(self, unit: str) -> str:
        return f"{'>=' if self.at_least else '<'} {number(self.bound)} {unit}"


@dataclass(frozen=True)
class Figure:
    """One measurement of trueup and, where there is one, of its baseline."""

    what: str
    unit: str
    trueup: Stats
    baseline: Stats | None = None
    target: Target | None = None
    failure: str = ""  # why there are no samples, when the measurement could not finish

    @property
    def ratio(self) -> float | None:
        if self.failure or self.baseline is None or not self.baseline.samples:
            return None
        return self.trueup.median / self.baseline.median

    @property
    def verdict(self) -> str:
        if self.failure:
            return "FAILED"
        if self.target is None:
            return ""
        return "met" if self.target.met(self.trueup.median) else "MISSED"


def number(value: float) -> str:
    """Figures people can compare at a glance: thousands separated, few decimals."""
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def spread(stats: Stats) -> str:
    if not stats.samples:
        return "-"
    if len(stats.samples) == 1:
        return number(stats.median)
    return f"{number(stats.median)} [{number(stats.low)}-{number(stats.high)}]"


HEADERS = (
    "measurement",
    "unit",
    "trueup median [min-max]",
    "baseline median [min-max]",
    "trueup/base",
    "target",
    "",
)


def table(figures: Sequence[Figure]) -> str:
    rows = [HEADERS] + [
        (
            f.what,
            f.unit,
            f.failure or spread(f.trueup),
            spread(f.baseline) if f.baseline else "-",
            f"{f.ratio:.2f}" if f.ratio is not None else "-",
            f.target.text(f.unit) if f.target else "-",
            f.verdict,
        )
        for f in figures
    ]
    return render(rows)


def render(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns, the first row the headers, underlined."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
