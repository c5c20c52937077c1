"""Repeated timings, summarised as median, min and max (the machine is shared and noisy)."""

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    """Several samples of one figure (a rate or a duration)."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)


class Stopwatch:
    """Times one block; the setup around it stays out of the figure."""

    seconds: float = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        gc.collect()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds = time.perf_counter() - start


def repeat(run: Callable[[], float], times: int) -> Stats:
    """Call ``run`` (which returns one sample) ``times`` times."""
    return Stats(tuple(run() for _ in range(times)))


def rates(count: int, durations: Stats) -> Stats:
    """Items per second, from the seconds it took to handle ``count`` items."""
    return Stats(tuple(count / seconds for seconds in durations.samples))
