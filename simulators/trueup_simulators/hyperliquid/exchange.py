"""POST /exchange on the simulated ledger: signed L1 actions as hyperliquid-python-sdk's
Exchange sends them (order, cancel, cancelByCloid).

The signature must recover an address the simulator knows (an account's own key or an agent
wallet approved for it); any other signer is refused as Hyperliquid refuses it. Statuses
come back one per order or cancel, in the venue's shapes.
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action

from trueup.adapters.hyperliquid.messages import JSON
from trueup_simulators.hyperliquid.ledger import Ledger, Push

ACTIONS = ("order", "cancel", "cancelByCloid")


class ActionError(Exception):
    """A request refused as a whole: Hyperliquid answers ``{"status": "err", ...}``."""


def signer(body: Mapping[str, Any]) -> str:
    """The address whose key signed the action (the SDK signs for testnet off mainnet)."""
    try:
        address = recover_agent_or_user_from_l1_action(
            body["action"],
            body["signature"],
            body.get("vaultAddress"),
            body["nonce"],
            body.get("expiresAfter"),
            False,
        )
    except Exception as error:  # any malformed signature or action: nobody signed it
        raise ActionError(f"Invalid signature: {type(error).__name__}") from None
    return str(address).lower()


def _coin(ledger: Ledger, asset: object) -> str:
    coins = list(ledger.sz_decimals)
    if not isinstance(asset, int) or not 0 <= asset < len(coins):
        raise ActionError(f"Unknown asset {asset!r}")
    return coins[asset]


def _decimal(value: object) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ActionError(f"not a number: {value!r}") from None
    if not result.is_finite() or result <= 0:
        raise ActionError(f"must be positive: {value!r}")
    return result


def _order(ledger: Ledger, user: str, wire: Mapping[str, Any]) -> tuple[JSON, list[Push]]:
    kind = wire.get("t") or {}
    if "limit" not in kind:
        raise ActionError("only limit orders are simulated (no trigger orders)")
    return ledger.submit(
        user,
        _coin(ledger, wire.get("a")),
        is_buy=bool(wire.get("b")),
        sz=_decimal(wire.get("s")),
        limit_px=_decimal(wire.get("p")),
        tif=str(kind["limit"].get("tif", "Gtc")),
        reduce_only=bool(wire.get("r")),
        cloid=wire.get("c"),
    )


def act(ledger: Ledger, user: str, action: Mapping[str, Any]) -> tuple[JSON, list[Push]]:
    """Carry out one action for ``user``; the response and the frames it pushes."""
    kind = action.get("type")
    statuses: list[JSON | str] = []
    pushes: list[Push] = []
    if kind == "order":
        for wire in action.get("orders") or []:
            placed, pushed = _order(ledger, user, wire)
            statuses.append(placed)
            pushes += pushed
    elif kind in ("cancel", "cancelByCloid"):
        for cancel in action.get("cancels") or []:
            oid, cloid = cancel.get("o"), cancel.get("cloid")
            _coin(ledger, cancel.get("a", cancel.get("asset")))
            cancelled, pushed = ledger.cancel_order(user, oid=oid, cloid=cloid)
            statuses.append(cancelled)
            pushes += pushed
    else:
        raise ActionError(f"Unsupported action type {kind!r}")
    response = {"type": "order" if kind == "order" else "cancel", "data": {"statuses": statuses}}
    return {"status": "ok", "response": response}, pushes
