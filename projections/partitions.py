"""Account partitions: each account's inputs are processed by one partition's projection,
so partitions can be run by different processes (one lease each) and, later, workers.

An account belongs to one of PARTITIONS partitions, by a stable hash of its venue and
name; a change of rules or a tick for every account belongs to them all. The number is
part of the journal's format: changing it would re-partition every account.
"""

import zlib
from collections.abc import Iterable

from trueup.adapters.store.journal import Journal
from trueup.domain.events import ClockTicked, InputEvent, RulesSet

PARTITIONS = 16
ALL = tuple(range(PARTITIONS))
# The tracker a journal of format 2 or older was processed under, by one projection.
LEGACY_TRACKER = "reconciler"


# Each account's partitions, as partitions_of gives them: asked for every input a worker
# reads and every event it emits, of a few hundred accounts (a crc32 of a new string each
# time, else). Emptied when full, so a journal of very many accounts cannot grow it.
_OF_ACCOUNT: dict[tuple[str, str], tuple[int]] = {}
_OF_ACCOUNT_MAX = 65_536


def partition_of(venue: str, account: str) -> int:
    """The partition an account belongs to: the same in every process and every run."""
    return _of_account(venue, account)[0]


def _of_account(venue: str, account: str) -> tuple[int]:
    found = _OF_ACCOUNT.get((venue, account))
    if found is None:
        if len(_OF_ACCOUNT) >= _OF_ACCOUNT_MAX:
            _OF_ACCOUNT.clear()
        found = _OF_ACCOUNT[(venue, account)] = (
            zlib.crc32(f"{venue}\n{account}".encode()) % PARTITIONS,
        )
    return found


def partitions_of(event: InputEvent) -> tuple[int, ...]:
    """The partitions that process ``event``."""
    if not event.venue and isinstance(event, RulesSet | ClockTicked):
        return ALL
    return _of_account(event.venue, event.account)


def tracker(partition: int) -> str:
    """The name its projection records its position, snapshot, views and lease under."""
    return f"reconciler.{partition:02d}"


def tracked_position(journal: Journal, numbers: Iterable[int] = ALL) -> int:
    """How far the partitions furthest behind have got: every input up to it is processed."""
    return min(partition_position(journal, n) for n in numbers)


def partition_position(journal: Journal, number: int) -> int:
    """How far a partition has got; where the single projection of an older journal had,
    if the partition has not recorded yet."""
    return journal.tracked_position(tracker(number)) or journal.tracked_position(LEGACY_TRACKER)
