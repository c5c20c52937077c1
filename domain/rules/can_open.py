"""May the trading system open a position on this symbol now? Every reason, not just one.

Blocks on what the exchange holds, a LIVE entry in flight, an active cooldown and
unresolved drift. A stale local record is reported but never blocks: the exchange does not
hold it, and blocking on it is the failure this replaces.
"""

from dataclasses import dataclass, field

from trueup.domain.book import AccountBook
from trueup.domain.rules.account import AccountDetectors
from trueup.domain.rules.orders import is_filled


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reasons: list[str] = field(default_factory=list)  # why not
    notes: list[str] = field(default_factory=list)  # worth knowing, not blocking

    def blocked(self, reason: str) -> "Verdict":
        """The same verdict with one more reason against: always a no."""
        return Verdict(allowed=False, reasons=[*self.reasons, reason], notes=self.notes)


def can_open(
    book: AccountBook,
    detectors: AccountDetectors,
    symbol: str,
    now: int,
    *,
    side: str | None = None,
    timeframe: str | None = None,
) -> Verdict:
    reasons: list[str] = []
    notes: list[str] = []
    if book.fold_faults:
        reasons.append(
            f"{len(book.fold_faults)} input(s) of this account could not be folded "
            f"(first: {book.fold_faults[0]}): its state cannot be vouched for"
        )
    for key, position in sorted(book.positions.items()):
        if key.symbol != symbol:
            continue
        held = position.exchange
        # In hedge mode the other leg is a different position; one-way mode nets.
        same_leg = side is None or key.position_idx == 0 or (held and held.side == side)
        if held is not None and held.size != 0 and same_leg:
            reasons.append(
                f"the exchange holds {held.side} {held.size} {symbol} "
                f"(idx {key.position_idx}, seq {held.seq})"
            )
        since = detectors.drift.unresolved(key)
        if since is not None:
            reasons.append(
                f"unresolved drift on idx {key.position_idx}: local {position.local_qty} "
                f"vs exchange {position.exchange_qty} since {since}"
            )
        for local in position.open_local():
            why = detectors.stale.why(book, local)
            if why is not None:
                notes.append(f"stale local record {local.position_id} ({why}): does not block")
            elif local.mode == "LIVE" and position.exchange_qty == 0:
                notes.append(
                    f"local record {local.position_id} is OPEN but the exchange holds nothing"
                )
            if timeframe is not None and local.timeframe == timeframe and local.mode == "LIVE":
                notes.append(f"{local.position_id} is open on timeframe {timeframe}")
    for link, placed in sorted(book.placed.items()):
        if placed.symbol != symbol or placed.purpose != "ENTRY":
            continue
        owner = book.local_position(placed.position_id)
        if owner is None or owner.mode != "LIVE" or not owner.is_open:
            continue
        order = book.order_by_link(link)
        if order is None or not (order.is_terminal or is_filled(order)):
            status = order.status if order else "not acknowledged"
            reasons.append(f"LIVE entry {link} in flight ({status}) since {placed.at}")
    until = detectors.manual_close.cooldown_until(symbol)
    if until is not None and until > now:
        reasons.append(f"cooldown on {symbol} until {until}")
    return Verdict(allowed=not reasons, reasons=reasons, notes=notes)
