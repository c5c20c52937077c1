"""A position key's PnL and risk as plain JSON values (decimals as strings): as `positions`
lists them from the views, and as `trueup audit` shows them, which loads no view."""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from trueup.domain.keys import PositionKey
from trueup.domain.pnl import KeyLedger, closed_unseen, differs_at_venue, unrealised
from trueup.domain.risk_records import PositionRisk

if TYPE_CHECKING:  # only its type: the book is what the callers hold
    from trueup.domain.book import AccountBook

JSON = dict[str, Any]


def pnl_state(book: "AccountBook", key: PositionKey) -> JSON:
    """A key's PnL as `positions` shows it: the open lifecycle's (realised before fees,
    fees, funding), the key's totals since trueup first saw it, and its unrealised PnL as
    trueup can vouch for it (``unrealised_source``: trueup's from the latest mark, the
    venue's own, or null: unknown); an open lifecycle the venue has since closed by a fill
    trueup has not seen is ``closed_at_venue``, one it holds another size or entry of
    ``differs_at_venue``. Decimals as strings; {} for a key neither knows."""
    found = book.pnl.keys.get(key)
    position = book.positions.get(key)
    report = position.exchange if position is not None else None
    received = position.exchange_at if position is not None else 0
    if found is None:
        if report is None:
            return {}
        # A report the ledger took no mark from: nothing folded since trueup saw the key.
        found = KeyLedger(key, coin=report.pnl_coin or report.notional_coin)
    figure, whose = unrealised(found, report, received)
    life = found.open
    return {
        "mark_price": _text(found.mark),
        "unrealised_pnl": _text(figure),
        "unrealised_source": None if whose is None else whose.value,
        "open": None
        if life is None
        else {
            "lifecycle": life.number,
            "side": life.side.value,
            "size": str(life.size),
            "opened_at": life.opened_at,
            "realised_pnl": str(life.realised),
            "fees": str(life.fees),
            "funding": str(life.funding),
            "position_ids": list(life.position_ids),
            "closed_at_venue": closed_unseen(found, report, received),
            "differs_at_venue": differs_at_venue(found, report, received),
        },
        "realised_pnl": str(found.realised),
        "fees": str(found.fees),
        "funding": str(found.funding),
        "coin": found.coin,
        # Fees paid in other coins, by coin: not in ``fees``, which are in ``coin``.
        "fees_apart": {coin: str(fee) for coin, fee in found.fees_apart},
    }


def risk_json(risk: PositionRisk | None) -> JSON | None:
    """A position's risk as plain JSON values (decimals as strings; None when flat)."""
    return None if risk is None else msgspec.to_builtins(risk)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
