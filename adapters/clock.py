"""The wall clock, read only at the edge: rules take time from their inputs' ``at``."""

import time


def wall_clock() -> int:
    """Now, in epoch milliseconds."""
    return time.time_ns() // 1_000_000
