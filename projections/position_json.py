"""A position key's PnL and risk as plain JSON values (decimals as strings): as `positions`
lists them from the views, and as `trueup audit` shows them, which loads no view."""

from decimal import Decimal
from typing import Any

import msgspec

from trueup.domain.keys import PositionKey
from trueup.domain.pnl import PnlLedger
from trueup.domain.risk import PositionRisk

JSON = dict[str, Any]


def pnl_state(ledger: PnlLedger, key: PositionKey) -> JSON:
    """A key's PnL as `positions` shows it: the open lifecycle's (realised before fees,
    fees, funding, unrealised from the latest mark; null without a mark) and the key's
    totals since trueup first saw it. Decimals as strings."""
    found = ledger.keys.get(key)
    if found is None:
        return {}
    life = found.open
    unrealised = found.unrealised()
    return {
        "mark_price": _text(found.mark),
        "unrealised_pnl": _text(unrealised),
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
        },
        "realised_pnl": str(found.realised),
        "fees": str(found.fees),
        "funding": str(found.funding),
        "coin": found.coin,
    }


def risk_json(risk: PositionRisk | None) -> JSON | None:
    """A position's risk as plain JSON values (decimals as strings; None when flat)."""
    return None if risk is None else msgspec.to_builtins(risk)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
