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
    """Times one block; the setup around it stays out of the figure. ``cpu``: the process's
    CPU time rather than the wall clock, for work without I/O on a loaded machine (a wall
    clock there counts the other processes' turns too)."""

    seconds: float = 0.0

    def __init__(self, *, cpu: bool = False) -> None:
        self._clock = time.process_time if cpu else time.perf_counter

    @contextmanager
    def running(self) -> Iterator[None]:
        gc.collect()
        start = self._clock()
        try:
            yield
        finally:
            self.seconds = self._clock() - start


def repeat(run: Callable[[], float], times: int) -> Stats:
    """Call ``run`` (which returns one sample) ``times`` times."""
    return Stats(tuple(run() for _ in range(times)))


def rates(count: int, durations: Stats) -> Stats:
    """Items per second, from the seconds it took to handle ``count`` items."""
    return Stats(tuple(count / seconds for seconds in durations.samples))
