"""What the detectors remember between inputs of one account (all of it folded, none read)."""

from dataclasses import dataclass, field

from trueup.domain.keys import OrderKey, PositionKey


@dataclass(slots=True)
class Memory:
    # position_id of LIVE local positions the exchange has shown (so a flat key is a close).
    confirmed: set[str] = field(default_factory=set)
    closed_reported: set[str] = field(default_factory=set)
    # symbol -> end of its cooldown (epoch ms).
    cooldowns: dict[str, int] = field(default_factory=dict)
    # Drift: since when each key has differed, and when it was last reported.
    drift_since: dict[PositionKey, int] = field(default_factory=dict)
    drift_reported: dict[PositionKey, int] = field(default_factory=dict)
    untracked_since: dict[PositionKey, int] = field(default_factory=dict)
    untracked_reported: set[PositionKey] = field(default_factory=set)
    # position_id -> first time a snapshot covered its key and showed nothing there.
    unseen_since: dict[str, int] = field(default_factory=dict)
    stale_reported: set[str] = field(default_factory=set)
    # Orders: ENTRY deadlines by order_link_id, partial fills by order and since when stalled.
    entry_deadlines: dict[str, int] = field(default_factory=dict)
    partial_since: dict[OrderKey, tuple[str, int]] = field(default_factory=dict)
    order_reports: set[tuple[str, OrderKey]] = field(default_factory=set)
    sl_seen: dict[OrderKey, tuple[object, ...]] = field(default_factory=dict)
