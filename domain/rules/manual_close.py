"""Manual close: the exchange shows flat a key the trading system still holds open (LIVE).

Someone closed it by hand, a stop-loss fired, or it was liquidated. Each local position on
the key is reported closed, STOP_LOSS when its TP1 had not filled, else EXCHANGE_CLOSED; a
stop-loss also cools the symbol down.
"""

from trueup.domain.book import AccountBook
from trueup.domain.emitted import Cause, CooldownStarted, Emitted, PositionClosed
from trueup.domain.keys import PositionKey
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.memory import Memory


def note_confirmations(book: AccountBook, memory: Memory, key: PositionKey) -> None:
    """Remember the LIVE local positions the exchange has now shown on their side."""
    position = book.positions[key]
    qty = position.exchange_qty
    if qty == 0:
        return
    for local in position.open_local():
        if local.mode == "LIVE" and (qty > 0) == (local.signed_qty > 0):
            memory.confirmed.add(local.position_id)


def manual_close(
    book: AccountBook, memory: Memory, config: RuleConfig, key: PositionKey, cause: Cause
) -> list[Emitted]:
    position = book.positions[key]
    if position.exchange is None or position.exchange.size != 0:
        return []
    emitted: list[Emitted] = []
    for local in position.open_local():
        pid = local.position_id
        # Only a position the exchange once showed can have been closed there; one it never
        # showed is a stale record (rules/stale.py).
        if local.mode != "LIVE" or pid not in memory.confirmed or pid in memory.closed_reported:
            continue
        memory.closed_reported.add(pid)
        stop_loss = book.tp1_state(pid) != "FILLED"
        exit_reason = "STOP_LOSS" if stop_loss else "EXCHANGE_CLOSED"
        emitted.append(PositionClosed(**cause.on(key), position_id=pid, exit_reason=exit_reason))
        if stop_loss and config.cooldown_enabled:
            until = cause.at + config.cooldown_ms
            if memory.cooldowns.get(key.symbol, 0) < until:
                memory.cooldowns[key.symbol] = until
                emitted.append(
                    CooldownStarted(**cause.on(key), until=until, reason=f"STOP_LOSS on {pid}")
                )
    return emitted
