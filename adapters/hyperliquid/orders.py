"""Hyperliquid execution client: orders placed and cancelled through the SDK's Exchange.

The cloid is the request's client order id, so the venue refuses a repeat; that answer
means "already placed", never a failure to retry. Hyperliquid has no order without a price:
a market order is an Ioc limit at the request's price, the worst the caller accepts. The key
(an account's or an agent wallet's) comes from the caller or HYPERLIQUID_SECRET_KEY, with
HYPERLIQUID_ACCOUNT_ADDRESS naming the account an agent trades for; it is never logged.
"""

import os
from dataclasses import replace
from decimal import Decimal
from typing import Any

import requests
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.utils.constants import MAINNET_API_URL
from hyperliquid.utils.error import ClientError, ServerError
from hyperliquid.utils.types import Cloid

from trueup.adapters.client_order_id import ClientOrderId
from trueup.adapters.orders import (
    Fence,
    Grid,
    OrderRequest,
    OrderType,
    Placement,
    Side,
    off_grid,
    unfenced,
)
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind

# Words of the venue's error strings (its error-responses page), by what they mean here.
ERROR_KINDS = (
    ("reduce only", RefusalKind.REDUCE_ONLY),
    ("insufficient margin", RefusalKind.INSUFFICIENT_MARGIN),
    ("could not immediately match", RefusalKind.NOT_MATCHED),
    ("does not exist", RefusalKind.AUTH),  # "User or API Wallet 0x... does not exist."
    ("signature", RefusalKind.AUTH),
    ("too many", RefusalKind.RATE_LIMITED),
    ("tick size", RefusalKind.INVALID),  # "Price must be divisible by tick size."
    ("minimum value", RefusalKind.INVALID),  # "Order must have minimum value of $10."
)


def _is_duplicate_cloid(error: str) -> bool:
    lowered = error.lower()
    return "cloid" in lowered and "duplicate" in lowered


def _refused(reason: str) -> Placement:
    lowered = reason.lower()
    kind = next((k for words, k in ERROR_KINDS if words in lowered), RefusalKind.OTHER)
    return Placement(PlacementOutcome.REFUSED, reason=reason, refusal=kind)


def placement(body: Any) -> Placement:
    """An /exchange reply to one order or cancel as a venue-neutral placement."""
    if not isinstance(body, dict) or body.get("status") != "ok":
        reason = body.get("response") if isinstance(body, dict) else body
        return _refused(str(reason))
    statuses = body["response"].get("data", {}).get("statuses") or [None]
    status = statuses[0]
    if status == "success":
        return Placement(PlacementOutcome.ACCEPTED)
    if not isinstance(status, dict):
        return _refused(f"unreadable status {status!r}")
    if "error" in status:
        error = str(status["error"])
        if _is_duplicate_cloid(error):
            return Placement(PlacementOutcome.ALREADY_PLACED, reason=error)
        return _refused(error)
    done = status.get("resting") or status.get("filled") or {}
    return Placement(PlacementOutcome.ACCEPTED, venue_order_id=str(done.get("oid", "")))


# A perp's price has at most 5 significant figures and 6 - szDecimals decimals (an integer
# price any figures); an order is worth at least $10 (USDC), but for a reduce-only one,
# which must close a position however small (Hyperliquid's tick and lot size rules, and its
# error responses: Tick, MinTradeNtl).
PRICE_FIGURES, PERP_PRICE_DECIMALS = 5, 6
MIN_ORDER_VALUE = Decimal(10)


def _grid(sz_decimals: int) -> Grid:
    step = Decimal(1).scaleb(-sz_decimals)
    tick = Decimal(1).scaleb(-(PERP_PRICE_DECIMALS - sz_decimals))
    return Grid(step, step, tick, price_figures=PRICE_FIGURES, min_value=MIN_ORDER_VALUE)


class HyperliquidOrders:
    """Places orders for one Hyperliquid account, signed by its key or an agent's."""

    in_flight_ms = 0  # Hyperliquid refuses a cloid again whatever became of its order

    def __init__(
        self,
        secret_key: str,
        *,
        account_address: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        wallet = Account.from_key(secret_key)
        self._exchange = Exchange(
            wallet,
            base_url=(base_url or MAINNET_API_URL).rstrip("/"),
            account_address=account_address,
            timeout=timeout,
        )

    @classmethod
    def from_env(cls, *, base_url: str | None = None) -> "HyperliquidOrders":
        """The key from HYPERLIQUID_SECRET_KEY, the account from HYPERLIQUID_ACCOUNT_ADDRESS."""
        key = os.environ.get("HYPERLIQUID_SECRET_KEY")
        if not key:
            raise RuntimeError("HYPERLIQUID_SECRET_KEY is not set")
        account = os.environ.get("HYPERLIQUID_ACCOUNT_ADDRESS") or None
        return cls(key, account_address=account, base_url=base_url)

    def written(self, client_order_id: ClientOrderId) -> str:
        return client_order_id.cloid

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        """An order with the request's cloid, on the coin's grid: Ioc for a market order,
        Gtc for a limit."""
        if request.price is None:
            return off_grid("Hyperliquid orders need a price (a market order's worst price)")
        info = self._exchange.info
        try:
            decimals = int(info.asset_to_sz_decimals[info.name_to_asset(request.symbol)])
        except KeyError:
            return off_grid(f"{request.symbol} is not a coin of the venue's meta")
        fitted = _grid(decimals).fit(request)
        if isinstance(fitted, str):
            return off_grid(fitted)
        fence()
        return replace(self._order(fitted), qty=fitted.qty)

    def _order(self, request: OrderRequest) -> Placement:
        tif = "Ioc" if request.order_type is OrderType.MARKET else "Gtc"
        return self._call(
            lambda: self._exchange.order(
                request.symbol,
                request.side is Side.BUY,
                float(request.qty),
                float(request.price or 0),
                {"limit": {"tif": tif}},
                reduce_only=request.reduce_only,
                cloid=Cloid.from_str(request.client_order_id.cloid),
            )
        )

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        """cancelByCloid."""
        try:
            cloid = Cloid.from_str(client_order_id)
        except (TypeError, ValueError):
            reason = f"{client_order_id!r} is no cloid (0x and 32 hex digits)"
            return Placement(PlacementOutcome.REFUSED, reason=reason, refusal=RefusalKind.INVALID)
        return self._call(lambda: self._exchange.cancel_by_cloid(symbol, cloid))

    def find(self, request: OrderRequest) -> Placement | None:
        """The account's order of the request's cloid, in any status (info orderStatus):
        already placed if Hyperliquid holds one."""
        exchange = self._exchange
        user = exchange.account_address or exchange.wallet.address
        cloid = Cloid.from_str(request.client_order_id.cloid)
        try:
            reply = exchange.info.query_order_by_cloid(user, cloid)
        except (ClientError, ServerError, requests.RequestException) as error:
            return Placement(
                PlacementOutcome.REFUSED,
                reason=type(error).__name__,
                refusal=RefusalKind.UNREACHABLE,
            )
        if not isinstance(reply, dict) or reply.get("status") != "order":
            return None  # "unknownOid": none of that cloid
        held = reply.get("order") or {}
        order = held.get("order") or {}
        return Placement(
            PlacementOutcome.ALREADY_PLACED,
            venue_order_id=str(order.get("oid", "")),
            reason=f"an order of this cloid is {held.get('status')}",
        )

    def _call(self, send: Any) -> Placement:
        try:
            return placement(send())
        except ClientError as error:
            limited = error.status_code == 429
            kind = RefusalKind.RATE_LIMITED if limited else RefusalKind.INVALID
            return Placement(
                PlacementOutcome.REFUSED, reason=str(error.error_message), refusal=kind
            )
        except ValueError as error:  # the SDK refuses a size or price it would have to round
            return Placement(
                PlacementOutcome.REFUSED, reason=str(error), refusal=RefusalKind.INVALID
            )
        except (ServerError, requests.RequestException) as error:
            # No answer: the order may be on the venue. Placing again with the same cloid is safe.
            return Placement(
                PlacementOutcome.REFUSED,
                reason=type(error).__name__,
                refusal=RefusalKind.UNREACHABLE,
            )
