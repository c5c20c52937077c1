"""Bybit V5 execution client: orders placed and cancelled through pybit's HTTP session.

The orderLinkId is the request's client order id, so Bybit itself refuses a repeat
(retCode 110072): that answer means "already placed", never a failure to retry. Keys come
from the caller or the environment (BYBIT_API_KEY, BYBIT_API_SECRET) and are never logged.
"""

import os
from dataclasses import replace
from decimal import Decimal
from typing import Any

import requests
from pybit import unified_trading
from pybit.exceptions import FailedRequestError

from trueup.adapters.client_order_id import ClientOrderId
from trueup.adapters.orders import (
    Fence,
    Grid,
    OrderRequest,
    OrderType,
    Placement,
    off_grid,
    unfenced,
)
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind

DUPLICATE_ORDER_LINK_ID = 110072
# Bybit's retCodes (error.mdx) by what the executor does about them.
REFUSAL_KINDS = {
    10001: RefusalKind.INVALID,
    10002: RefusalKind.AUTH,
    10003: RefusalKind.AUTH,
    10004: RefusalKind.AUTH,
    10005: RefusalKind.AUTH,
    10006: RefusalKind.RATE_LIMITED,
    # "Internal server error; service is restarting": the order was not judged, or was taken
    # before the fault. Asked again under the same id, it is placed once or answers 110072.
    10016: RefusalKind.UNREACHABLE,
    110003: RefusalKind.INVALID,
    110004: RefusalKind.INSUFFICIENT_MARGIN,
    110007: RefusalKind.INSUFFICIENT_MARGIN,
    110012: RefusalKind.INSUFFICIENT_MARGIN,
    110017: RefusalKind.REDUCE_ONLY,
    110044: RefusalKind.INSUFFICIENT_MARGIN,
    110045: RefusalKind.INSUFFICIENT_MARGIN,
}


class _EveryCode:
    """pybit's ``ignore_codes``: every error reply is returned, not raised, so its retCode
    and retMsg reach the caller as Bybit wrote them."""

    def __contains__(self, _code: object) -> bool:
        return True

    def __bool__(self) -> bool:
        return True


def placement(body: dict[str, Any]) -> Placement:
    """A /v5/order/* reply as a venue-neutral placement."""
    ret_code = int(body.get("retCode", -1))
    reason = str(body.get("retMsg", ""))
    result = body.get("result") or {}
    if ret_code == 0:
        return Placement(PlacementOutcome.ACCEPTED, venue_order_id=str(result.get("orderId", "")))
    if ret_code == DUPLICATE_ORDER_LINK_ID:
        return Placement(PlacementOutcome.ALREADY_PLACED, reason=reason, code=str(ret_code))
    kind = REFUSAL_KINDS.get(ret_code, RefusalKind.OTHER)
    return Placement(PlacementOutcome.REFUSED, reason=reason, refusal=kind, code=str(ret_code))


class BybitOrders:
    """Places orders on one Bybit account (category linear by default)."""

    in_flight_ms = 0  # Bybit refuses an orderLinkId again whatever became of its order

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        base_url: str | None = None,
        category: str = "linear",
        timeout: int = 10,
    ) -> None:
        self.category = category
        self._http = unified_trading.HTTP(
            testnet=False,
            api_key=api_key,
            api_secret=api_secret,
            ignore_codes=_EveryCode(),
            # No silent retries inside pybit: every attempt is the caller's, with the same
            # orderLinkId, so a retry can never place a second order.
            retry_codes={-1},
            max_retries=1,
            timeout=timeout,
        )
        if base_url:
            self._http.endpoint = base_url.rstrip("/")
        self._grids: dict[str, Grid] = {}

    @classmethod
    def from_env(cls, *, base_url: str | None = None, category: str = "linear") -> "BybitOrders":
        """Keys from BYBIT_API_KEY and BYBIT_API_SECRET."""
        try:
            key, secret = os.environ["BYBIT_API_KEY"], os.environ["BYBIT_API_SECRET"]
        except KeyError as missing:
            raise RuntimeError(f"{missing.args[0]} is not set") from None
        return cls(key, secret, base_url=base_url, category=category)

    def written(self, client_order_id: ClientOrderId) -> str:
        return client_order_id.order_link_id

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        """POST /v5/order/create with the request's orderLinkId, on the symbol's grid."""
        grid = self._grid(request.symbol)
        if isinstance(grid, Placement):
            return grid
        fitted = grid.fit(request)
        if isinstance(fitted, str):
            return off_grid(fitted)
        fence()
        return replace(self._create(fitted), qty=fitted.qty)

    def _create(self, request: OrderRequest) -> Placement:
        params: dict[str, Any] = {
            "category": self.category,
            "symbol": request.symbol,
            "side": str(request.side),
            "orderType": str(request.order_type),
            "qty": str(request.qty),
            "orderLinkId": request.client_order_id.order_link_id,
            "reduceOnly": request.reduce_only,
            "positionIdx": request.position_idx,
        }
        if request.order_type is OrderType.LIMIT:
            if request.price is None:
                return off_grid("a limit order needs a price")
            params["price"] = str(request.price)
        return self._call(self._http.place_order, params)

    def _grid(self, symbol: str) -> Grid | Placement:
        """The symbol's lot and tick sizes (GET /v5/market/instruments-info), kept once read."""
        found = self._grids.get(symbol)
        if found is not None:
            return found
        try:
            body = self._http.get_instruments_info(category=self.category, symbol=symbol)
            listed = (body.get("result") or {}).get("list") or []
            if body.get("retCode") != 0 or not listed:
                return off_grid(f"{symbol} is not listed: {body.get('retMsg', '')}")
            lot, prices = listed[0]["lotSizeFilter"], listed[0]["priceFilter"]
            grid = Grid(
                Decimal(lot["qtyStep"]), Decimal(lot["minOrderQty"]), Decimal(prices["tickSize"])
            )
        except (FailedRequestError, requests.RequestException) as error:
            return Placement(
                PlacementOutcome.REFUSED,
                reason=f"instruments-info: {type(error).__name__}",
                refusal=RefusalKind.UNREACHABLE,
            )
        except (KeyError, TypeError, ArithmeticError, ValueError) as error:
            return off_grid(f"{symbol}'s instruments-info is unreadable: {error!r:.100}")
        self._grids[symbol] = grid
        return grid

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        """POST /v5/order/cancel by orderLinkId."""
        params = {"category": self.category, "symbol": symbol, "orderLinkId": client_order_id}
        return self._call(self._http.cancel_order, params)

    def find(self, request: OrderRequest) -> Placement | None:
        """GET /v5/order/realtime by orderLinkId, which finds an order in any status (of the
        account's 500 latest closed ones): already placed if Bybit holds one."""
        params = {
            "category": self.category,
            "symbol": request.symbol,
            "orderLinkId": request.client_order_id.order_link_id,
        }
        reply = self._reply(self._http.get_open_orders, params)
        if isinstance(reply, Placement):
            return reply
        if int(reply.get("retCode", -1)) != 0:
            return placement(reply)
        found = (reply.get("result") or {}).get("list") or []
        if not found:
            return None
        order = found[0]
        return Placement(
            PlacementOutcome.ALREADY_PLACED,
            venue_order_id=str(order.get("orderId", "")),
            reason=f"an order of this orderLinkId is {order.get('orderStatus')}",
        )

    def _call(self, method: Any, params: dict[str, Any]) -> Placement:
        reply = self._reply(method, params)
        return reply if isinstance(reply, Placement) else placement(reply)

    def _reply(self, method: Any, params: dict[str, Any]) -> dict[str, Any] | Placement:
        """Bybit's reply; a refusal when none came (a retry with the same id is safe)."""
        try:
            body: dict[str, Any] = method(**params)
        except FailedRequestError as error:
            kind = RefusalKind.RATE_LIMITED if error.status_code in (403, 429) else None
            return Placement(
                PlacementOutcome.REFUSED,
                reason=f"HTTP {error.status_code}",
                refusal=kind or RefusalKind.UNREACHABLE,
            )
        except (requests.RequestException, ValueError) as error:
            # No answer: the order may be on the venue. Placing again with the same id is safe.
            return Placement(
                PlacementOutcome.REFUSED,
                reason=type(error).__name__,
                refusal=RefusalKind.UNREACHABLE,
            )
        return body
