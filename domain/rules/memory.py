"""What the detectors remember between inputs of one account (all of it folded, none read).

Bounded like the book: what it remembers of an order, an intent or a local position goes
when the book lets go of that (``forget``), so it too follows what is open.
"""

from dataclasses import dataclass, field

from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.retention import Forgotten


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
    # The kinds of report already made for each order (submitted, filled, ...).
    order_reports: dict[OrderKey, set[str]] = field(default_factory=dict)
    sl_seen: dict[OrderKey, tuple[object, ...]] = field(default_factory=dict)

    def forget(self, forgotten: Forgotten) -> None:
        """Forget what concerns the orders, intents and local positions the book has let go
        since the last call (it hands each over once)."""
        if not forgotten:
            return
        for order_key in forgotten.orders.take():
            self.order_reports.pop(order_key, None)
            self.sl_seen.pop(order_key, None)
            self.partial_since.pop(order_key, None)
        for link in forgotten.intents.take():
            self.entry_deadlines.pop(link, None)
        for position_id in forgotten.locals.take():
            self.confirmed.discard(position_id)
            self.closed_reported.discard(position_id)
            self.stale_reported.discard(position_id)
            self.unseen_since.pop(position_id, None)
