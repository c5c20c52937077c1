"""Aster execution client: orders placed and cancelled on the v1 REST, signed with HMAC.

The newClientOrderId is the request's client order id. Aster keeps it unique among *open*
orders only (-4116 for one still open), so an order that filled or ended would be placed
again under the same id: each placement first asks for the order of that id (GET
/fapi/v1/order, which finds an order of any status) and places only when Aster knows none.
Two executors never place at once (the executor's lease), so ask-then-place is enough. Keys
come from the caller or the environment (ASTER_API_KEY, ASTER_API_SECRET), in a header
only, and are never logged.
"""

import os
from dataclasses import replace
from decimal import Decimal
from typing import Any

from trueup.adapters.aster import wire
from trueup.adapters.aster.records import POSITION_IDX
from trueup.adapters.aster.rest import MAINNET_REST_URL, REFUSED_KEY_CODES, AsterRest, Reply
from trueup.adapters.aster.signing import RECV_WINDOW
from trueup.adapters.client_order_id import ClientOrderId
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.orders import (
    Fence,
    Grid,
    OrderRequest,
    OrderType,
    Placement,
    off_grid,
    unfenced,
)
from trueup.adapters.wire_errors import ErrorReply
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind

ORDER = "/fapi/v1/order"
EXCHANGE_INFO = "/fapi/v1/exchangeInfo"
NO_SUCH_ORDER = -2013
# Aster documents no code for a newClientOrderId already on an open order; Binance's
# futures API, whose interface Aster's copies, answers -4116 "ClientOrderId is duplicated."
DUPLICATED_CLIENT_ORDER_ID = -4116
POSITION_SIDES = {idx: side for side, idx in POSITION_IDX.items()}
# Aster refuses a request stamped more than 1000 ms ahead of its clock, and takes one up to
# recvWindow after its stamp: past this after the send, by any clock within that, it is out.
CLOCK_ALLOWANCE_MS = 2000
# Aster's error codes (futures-api-v1.md, "Error Codes") by what the executor does about
# them; any other is final, in Aster's words.
REFUSAL_KINDS: dict[int, RefusalKind] = {
    -1003: RefusalKind.RATE_LIMITED,  # TOO_MANY_REQUESTS (HTTP 429, or 418: IP banned)
    -1015: RefusalKind.RATE_LIMITED,  # TOO_MANY_ORDERS
    # "Execution status unknown": the order may be on the venue, asked again under its id.
    -1001: RefusalKind.UNREACHABLE,
    -1006: RefusalKind.UNREACHABLE,
    -1007: RefusalKind.UNREACHABLE,
    -1016: RefusalKind.UNREACHABLE,
    -1002: RefusalKind.AUTH,
    -1021: RefusalKind.AUTH,  # the request's timestamp outside recvWindow
    **{code: RefusalKind.AUTH for code in REFUSED_KEY_CODES},
    -2018: RefusalKind.INSUFFICIENT_MARGIN,
    -2019: RefusalKind.INSUFFICIENT_MARGIN,
    -2027: RefusalKind.INSUFFICIENT_MARGIN,
    -2022: RefusalKind.REDUCE_ONLY,
    -2024: RefusalKind.REDUCE_ONLY,
    -2020: RefusalKind.NOT_MATCHED,
    # A parameter, or a symbol filter (-1111, -4004, -4014, -4164 ...), the venue refuses.
    **{code: RefusalKind.INVALID for code in (-1100, -1101, -1102, -1106, -1111, -1115)},
    **{code: RefusalKind.INVALID for code in (-1116, -1117, -1121, -1130, -4001, -4002)},
    **{code: RefusalKind.INVALID for code in (-4003, -4004, -4005, -4013, -4014, -4015)},
    **{code: RefusalKind.INVALID for code in (-4060, -4061, -4164)},
}


def placement(reply: Reply) -> Placement:
    """A POST or DELETE /fapi/v1/order reply as a venue-neutral placement."""
    if reply.ok and isinstance(reply.body, dict):
        return Placement(PlacementOutcome.ACCEPTED, venue_order_id=_order_id(reply.body))
    if reply.code == DUPLICATED_CLIENT_ORDER_ID:
        return Placement(PlacementOutcome.ALREADY_PLACED, reason=_msg(reply), code=str(reply.code))
    return refused(reply)


def refused(reply: Reply) -> Placement:
    """Aster's error reply (or none) as a refusal, with its code and words: a 5xx without a
    code it knows says the execution status is unknown, as no reply does."""
    code = reply.code
    if reply.status == 0:
        kind = RefusalKind.UNREACHABLE
    elif wire.rate_limited(ErrorReply("", ret_code=code, http_status=reply.status)):
        kind = RefusalKind.RATE_LIMITED
    elif code in REFUSAL_KINDS:
        kind = REFUSAL_KINDS[code]
    else:
        kind = RefusalKind.UNREACHABLE if reply.status >= 500 else RefusalKind.OTHER
    return Placement(
        PlacementOutcome.REFUSED,
        reason="no reply" if reply.status == 0 else _msg(reply),
        refusal=kind,
        code="" if code is None else str(code),
    )


def _msg(reply: Reply) -> str:
    msg = reply.body.get("msg") if isinstance(reply.body, dict) else None
    return str(msg) if msg else f"HTTP {reply.status}"


def _order_id(body: dict[str, Any]) -> str:
    order_id = body.get("orderId")
    return "" if order_id is None else str(order_id)


def grids(body: object) -> dict[str, Grid]:
    """Each listed symbol's grid, from an exchangeInfo reply's LOT_SIZE, PRICE_FILTER and
    MIN_NOTIONAL filters."""
    listed: dict[str, Grid] = {}
    symbols = body.get("symbols") if isinstance(body, dict) else None
    for item in symbols if isinstance(symbols, list) else ():
        filters = {f.get("filterType"): f for f in item.get("filters") or ()}
        lot, prices = filters["LOT_SIZE"], filters["PRICE_FILTER"]
        notional = filters.get("MIN_NOTIONAL", {}).get("notional")
        listed[str(item["symbol"])] = Grid(
            Decimal(str(lot["stepSize"])),
            Decimal(str(lot["minQty"])),
            Decimal(str(prices["tickSize"])),
            min_value=None if notional is None else Decimal(str(notional)),
        )
    return listed


class AsterOrders:
    """Places orders on one Aster futures account (v1, HMAC)."""

    # An order sent without an answer (-1007, no reply) may still be taken until its
    # recvWindow has passed, after the ask for its id found none: asked then, not before.
    in_flight_ms = RECV_WINDOW + CLOCK_ALLOWANCE_MS

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        base_url: str | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        url = (base_url or MAINNET_REST_URL).rstrip("/")
        self._rest = AsterRest(api_key, api_secret, base_url=url, clock=clock)
        self._grids: dict[str, Grid] = {}

    @classmethod
    def from_env(cls, *, base_url: str | None = None) -> "AsterOrders":
        """Keys from ASTER_API_KEY and ASTER_API_SECRET."""
        try:
            key, secret = os.environ["ASTER_API_KEY"], os.environ["ASTER_API_SECRET"]
        except KeyError as missing:
            raise RuntimeError(f"{missing.args[0]} is not set") from None
        return cls(key, secret, base_url=base_url)

    def close(self) -> None:
        self._rest.close()

    def written(self, client_order_id: ClientOrderId) -> str:
        # tu- and 32 hex digits: 35 characters of newClientOrderId's [.A-Z:/a-z0-9_-]{1,36}.
        return client_order_id.order_link_id

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        """POST /fapi/v1/order with the request's newClientOrderId, on the symbol's grid,
        unless Aster already holds an order of that id. Aster takes an id again once its
        order is done: only the fence, between the asking and the sending, keeps a second
        executor's repeat out."""
        grid = self._grid(request.symbol)
        if isinstance(grid, Placement):
            return grid
        fitted = grid.fit(request)
        if isinstance(fitted, str):
            return off_grid(fitted)
        if fitted.order_type is OrderType.LIMIT and fitted.price is None:
            return off_grid("a limit order needs a price")
        earlier = self.find(fitted)
        if earlier is not None:
            return replace(earlier, qty=fitted.qty)
        fence()
        return replace(placement(self._rest.signed("POST", ORDER, _params(fitted))), qty=fitted.qty)

    def find(self, request: OrderRequest) -> Placement | None:
        """Aster's order of the request's id, as already placed; a refusal when Aster could
        not say; None when it knows none (GET /fapi/v1/order by origClientOrderId finds an
        order in any status)."""
        cid = self.written(request.client_order_id)
        reply = self._rest.get(ORDER, {"symbol": request.symbol, "origClientOrderId": cid})
        if reply.code == NO_SUCH_ORDER:
            return None
        if reply.ok and isinstance(reply.body, dict):
            return Placement(
                PlacementOutcome.ALREADY_PLACED,
                venue_order_id=_order_id(reply.body),
                reason=f"an order of this client order id is {reply.body.get('status')}",
            )
        return refused(reply)

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        """DELETE /fapi/v1/order by origClientOrderId."""
        params = {"symbol": symbol, "origClientOrderId": client_order_id}
        return placement(self._rest.signed("DELETE", ORDER, params))

    def _grid(self, symbol: str) -> Grid | Placement:
        """The symbol's grid, from exchangeInfo (read once, for every symbol listed)."""
        found = self._grids.get(symbol)
        if found is not None:
            return found
        reply = self._rest.public(EXCHANGE_INFO)
        if not reply.ok:
            failed = refused(reply)
            return replace(failed, reason=f"exchangeInfo: {failed.reason}")
        try:
            self._grids = grids(reply.body)
        except (KeyError, TypeError, AttributeError, ArithmeticError, ValueError) as error:
            return off_grid(f"Aster's exchangeInfo is unreadable: {error!r:.100}")
        return self._grids.get(symbol) or off_grid(f"{symbol} is not listed on Aster")


def _params(request: OrderRequest) -> dict[str, str]:
    """The New Order parameters: a hedge leg names its positionSide (and may not send
    reduceOnly, which its side already implies); a MARKET order sends no price."""
    params = {
        "symbol": request.symbol,
        "side": request.side.value.upper(),
        "type": request.order_type.value.upper(),
        "quantity": str(request.qty),
    }
    if request.order_type is OrderType.LIMIT:
        params |= {"timeInForce": "GTC", "price": str(request.price)}
    if request.position_idx:
        params["positionSide"] = POSITION_SIDES[request.position_idx]
    elif request.reduce_only:
        params["reduceOnly"] = "true"
    params["newClientOrderId"] = request.client_order_id.order_link_id
    return params
