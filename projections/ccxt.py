"""trueup's reconciled positions in ccxt's unified Position structure.

One structure per key the exchange holds, as ccxt's fetch_positions gives it: camelCase
names, numbers as JSON numbers (ccxt's floats; the exact decimals stay in ``info``, the
`positions --json` row), unified symbols ("BTC/USDT:USDT" for a USDT-margined perpetual).
Where trueup cannot know a field it is null, as ccxt leaves it.
"""

from decimal import Decimal
from typing import Any

from trueup.adapters.venue import Contract
from trueup.adapters.venues import find
from trueup.domain.instants import iso

JSON = dict[str, Any]
HUNDRED = Decimal(100)


def contract(venue: str, category: str, symbol: str) -> Contract | None:
    """What the venue's adapter knows ``symbol`` to be; None where it does not say."""
    found = find(venue)
    return None if found is None else found.coins.contract(category, symbol)


def unified_symbol(venue: str, category: str, symbol: str) -> str:
    """ccxt's name for a contract: BASE/QUOTE:SETTLE; the venue's own where unsure."""
    found = contract(venue, category, symbol)
    return symbol if found is None else f"{found.base}/{found.quote}:{found.settle}"


def base_asset(venue: str, category: str, symbol: str) -> str:
    """The asset a contract is on (ccxt's BASE: BTC for Bybit's BTCUSDT and Hyperliquid's
    BTC); the venue's symbol where unsure."""
    found = contract(venue, category, symbol)
    return symbol if found is None else found.base


def ccxt_position(row: JSON) -> JSON | None:
    """A `positions --json` row as ccxt's Position; None when the exchange holds nothing."""
    risk = row.get("risk")
    if risk is None:
        return None
    pnl = row.get("pnl") or {}
    opened = pnl.get("open")
    unrealised = _decimal(pnl.get("unrealised_pnl"))
    realised = None
    if opened:
        realised = (
            Decimal(opened["realised_pnl"]) - Decimal(opened["fees"]) + Decimal(opened["funding"])
        )
    notional = _decimal(risk["notional"])
    initial = _decimal(risk["initial_margin"])
    maintenance = _decimal(risk["maintenance_margin"])
    updated = risk["updated_time"] or None
    return {
        "info": row,
        "id": f"{row['venue']}:{row['account']}:{row['category']}:{row['symbol']}:"
        f"{row['position_idx']}",
        "symbol": unified_symbol(row["venue"], row["category"], row["symbol"]),
        "timestamp": updated,
        "datetime": iso(updated) if updated else None,
        "lastUpdateTimestamp": updated,
        "side": "short" if risk["side"] == "SHORT" else "long",
        "contracts": _number(risk["size"]),
        "contractSize": 1.0,
        "notional": _number(notional),
        "leverage": _number(risk["leverage"]),
        "unrealizedPnl": _number(unrealised),
        "realizedPnl": _number(realised),
        "collateral": _number(initial),
        "entryPrice": _number(risk["entry_price"]),
        "markPrice": _number(risk["mark_price"]),
        "lastPrice": None,
        "liquidationPrice": _number(risk["liq_price"]),
        "marginMode": risk["margin_mode"],
        "hedged": row["position_idx"] != 0,
        "maintenanceMargin": _number(maintenance),
        "maintenanceMarginPercentage": _percentage(maintenance, notional),
        "initialMargin": _number(initial),
        "initialMarginPercentage": _percentage(initial, notional),
        "marginRatio": _ratio(maintenance, initial),
        "percentage": _number(_pct(unrealised, initial)),
        "stopLossPrice": None,
        "takeProfitPrice": None,
    }


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _number(value: object) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _pct(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or whole is None or whole == 0:
        return None
    return part / whole * HUNDRED


def _percentage(part: Decimal | None, whole: Decimal | None) -> float | None:
    """As ccxt gives margin percentages: a fraction of the notional."""
    if part is None or whole is None or whole == 0:
        return None
    return float(part / whole)


def _ratio(maintenance: Decimal | None, collateral: Decimal | None) -> float | None:
    return _percentage(maintenance, collateral)
