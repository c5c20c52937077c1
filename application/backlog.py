"""A notifier's backlog, and how much of it /health lets pass: what it still owes, and the
deliveries it gave up on (dead letters)."""

from dataclasses import dataclass

# The latest dead letters a status keeps the instants of: more than any limit may be set to.
KEPT_DEAD_LETTERS = 100


@dataclass(frozen=True)
class Backlog:
    """What a loop owes after a step: deliveries waiting, the oldest's emitted instant, and
    the instants of the dead letters that step recorded."""

    waiting: int = 0
    oldest_waiting_at: int | None = None
    dead_lettered_at: tuple[int, ...] = ()


@dataclass(frozen=True)
class BacklogLimits:
    """How much a notifier may leave untold before /health says it is unhealthy: more than
    ``max_dead_letters`` within ``dead_letter_window_ms``, or a delivery still owed
    ``max_undelivered_ms`` after its event was emitted."""

    max_dead_letters: int = 0
    dead_letter_window_ms: int = 3_600_000
    max_undelivered_ms: int = 300_000
