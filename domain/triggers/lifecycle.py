"""The lifecycle of one firing: fired, then requested, then executed, failed or cancelled.

Each transition happens at most once, and a terminal stage is final: a second executor
report of the same order, or a late one, changes nothing.
"""

from enum import StrEnum


class Stage(StrEnum):
    WAITING_CONFIRM = "waiting confirm"  # fired; auto_execute is off
    REQUESTED = "requested"
    EXECUTED = "executed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Stage.EXECUTED, Stage.FAILED, Stage.CANCELLED})
# Where each stage may go; a fired trigger starts at WAITING_CONFIRM or REQUESTED, or fails
# at once (an order it cannot decide: a lock on a one-way account).
_NEXT: dict[Stage, frozenset[Stage]] = {
    Stage.WAITING_CONFIRM: frozenset({Stage.REQUESTED, Stage.CANCELLED, Stage.FAILED}),
    Stage.REQUESTED: frozenset({Stage.EXECUTED, Stage.FAILED, Stage.CANCELLED}),
    Stage.EXECUTED: frozenset(),
    Stage.FAILED: frozenset(),
    Stage.CANCELLED: frozenset(),
}


def may_advance(stage: Stage, to: Stage) -> bool:
    """Whether a firing at ``stage`` may move to ``to`` (never back, never twice)."""
    return to in _NEXT[stage]


def in_flight(stage: Stage | None) -> bool:
    """A firing still waiting on a confirm or an executor: its trigger cannot be re-armed."""
    return stage is not None and stage not in TERMINAL
