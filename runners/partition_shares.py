"""How many account partitions each of several workers runs: a fair share of those with
work, so that adding a worker spreads the accounts and losing one moves its partitions.

Each worker decides for itself, every round, from what it knows: the partitions it runs,
the ones that have accounts (busy), the ones it offers to run, and how many workers are
alive. A lease settles any race: a partition is run by whoever takes its lease.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Moves:
    """What one worker does this round: busy partitions to try, in order, until it has taken
    ``room`` of them; idle ones to take all of; and partitions to let go."""

    busy: tuple[int, ...] = ()
    room: int = 0
    idle: tuple[int, ...] = ()
    let_go: tuple[int, ...] = ()


def fair_share(busy: int, workers: int) -> int:
    """The most busy partitions one worker should run."""
    return math.ceil(busy / max(1, workers))


def plan(held: set[int], offered: set[int], busy: set[int], workers: int) -> Moves:
    """This round's moves. Busy partitions are shared out; idle ones (no account has sent
    anything yet) cost nothing to run, so any worker takes those nobody holds."""
    share = fair_share(len(busy & offered), workers)
    held_busy = sorted(held & busy)
    if len(held_busy) > share:
        # The highest first: every worker agrees on which to keep, so none thrash.
        return Moves(let_go=tuple(held_busy[share:]))
    # Every candidate, not just the first few: another worker may hold those.
    return Moves(
        busy=tuple(sorted((offered & busy) - held)),
        room=share - len(held_busy),
        idle=tuple(sorted((offered - busy) - held)),
    )
