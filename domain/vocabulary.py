"""The venue-neutral words for orders, fills and positions; each venue's adapter maps its own.

The names follow the field's execution vocabulary (NautilusTrader's: order status, order side,
position side; venue and client order ids, trade ids), so no rule reads a venue's wire strings.
"""

from enum import StrEnum


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class PositionSide(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    FLAT = "FLAT"  # only the exchange reports flat: a local position is always long or short


# The side of the order that closes a position of each side.
CLOSING_SIDE = {PositionSide.LONG: OrderSide.SELL, PositionSide.SHORT: OrderSide.BUY}
# The side of the position an order of each side opens.
OPENED_SIDE = {OrderSide.SELL: PositionSide.SHORT, OrderSide.BUY: PositionSide.LONG}


class ContractKind(StrEnum):
    """How a contract is sized, as its venue's adapter knows it."""

    LINEAR = "linear"  # sized in the base asset: its notional is size x mark
    INVERSE = "inverse"  # sized in its quote coin (USD) and settled in the base asset
    # A right to buy or sell the base asset at its strike, sized in the base asset: size x
    # mark is what its premium is worth, not an exposure to the asset.
    OPTION = "option"


class Whose(StrEnum):
    """Whose figure a position's unrealised PnL is."""

    TRUEUP = "trueup"  # the ledger's, from its fills and the latest mark
    VENUE = "venue"  # the venue's own, from its last position report


class PnlFigure(StrEnum):
    """Which of the venue's own realised PnL figures trueup's is checked against."""

    FILL = "fill_realised"  # a closing fill's, before fees
    POSITION = "position_realised"  # the position held's, fees and funding in
    # The move of the position's all-time figure between two reports, fees and funding in.
    ALL_TIME = "position_realised_all_time"


class MarginMode(StrEnum):
    """How a position is margined: on the account's whole balance, or on its own."""

    CROSS = "cross"
    ISOLATED = "isolated"


class OrderStatus(StrEnum):
    """Where an order stands at the venue."""

    ACCEPTED = "ACCEPTED"  # resting, nothing filled yet
    PENDING_TRIGGER = "PENDING_TRIGGER"  # a conditional order waiting for its trigger
    # The trigger fired: the order works on under the same venue order id, so it is open.
    TRIGGERED = "TRIGGERED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"  # by anyone, before or after part of it filled
    REJECTED = "REJECTED"

    # Whether the order has ended: nothing more fills on it. Set on each member below, a
    # plain attribute rather than a property: the fold asks it of every order report.
    is_terminal: bool


_TERMINAL = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)
for _status in OrderStatus:
    _status.is_terminal = _status in _TERMINAL
del _status


class OrderOrigin(StrEnum):
    """Who or what placed an order, where the venue says: what a closing fill shows of its cause."""

    CLIENT = "CLIENT"  # the account's own API client or order form (the bot, or a person)
    CLOSING = "CLOSING"  # a close from the venue's position panel: by hand
    TAKE_PROFIT = "TAKE_PROFIT"  # the venue's take-profit (or trailing take-profit) order
    STOP_LOSS = "STOP_LOSS"  # the venue's stop-loss order
    TRAILING_STOP = "TRAILING_STOP"
    CONDITIONAL = "CONDITIONAL"  # a stop order: it waited for a trigger price (entry or exit)
    LIQUIDATION = "LIQUIDATION"  # the venue's liquidation engine
    ADL = "ADL"  # auto-deleveraging against another account's liquidation
    SETTLEMENT = "SETTLEMENT"  # the contract's delivery, settlement or delisting
    STRATEGY = "STRATEGY"  # one of the venue's own order tools (grid bot, TWAP, iceberg ...)


class ExecutionKind(StrEnum):
    """What an execution was, in the field's words; each venue's adapter maps its own."""

    TRADE = "trade"  # an order matched
    FUNDING = "funding"  # a payment, never a fill: it moves no quantity
    LIQUIDATION = "liquidation"  # the venue closed the position (Bybit BustTrade)
    ADL = "adl"  # auto-deleveraging closed it against a liquidation (Bybit AdlTrade)
    DELIVERY = "delivery"  # the contract was delivered or delisted (Bybit Delivery)
    SETTLEMENT = "settlement"  # the contract was settled (Bybit Settle)


class OrderAction(StrEnum):
    """What an executor asked a venue to do with one order."""

    PLACE = "place"
    CANCEL = "cancel"


class PlacementOutcome(StrEnum):
    """A venue's answer to one order placement. ALREADY_PLACED: it holds an order with this
    client order id, so this request placed nothing (not a failure: never retry it as one).
    REFUSED: it said no; ``RefusalKind`` says whether trying again could ever help."""

    ACCEPTED = "accepted"
    ALREADY_PLACED = "already placed"
    REFUSED = "refused"


class NotificationOutcome(StrEnum):
    """What became of one attempt to deliver an emitted event to a notification target.
    FAILED: this try did not get through, another follows; DEAD_LETTERED: it was the last."""

    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD_LETTERED = "dead-lettered"


class RefusalKind(StrEnum):
    """Why a venue refused an order, in the terms the executor acts on."""

    REDUCE_ONLY = "reduce only"  # nothing (or not enough) to reduce
    INSUFFICIENT_MARGIN = "insufficient margin"
    INVALID = "invalid"  # a parameter the venue will never accept
    NOT_MATCHED = "not matched"  # an immediate-or-cancel order found nothing to fill against
    AUTH = "auth"  # key, signature or request time refused
    RATE_LIMITED = "rate limited"
    UNREACHABLE = "unreachable"  # no answer: the order may or may not be on the venue
    TOO_LATE = "too late"  # not sent: the executor judged the request too old to act on
    WITHDRAWN = "withdrawn"  # not sent: its trigger was disabled or removed first
    # Not sent: the position a lock was to hedge is flat, or holds less than the lock.
    POSITION_CHANGED = "position changed"
    # Not sent: the venue could not take it as trueup reads the venue (off its lot or tick
    # grid, below its minimum, a symbol it does not list, a limit order without a price).
    UNSENDABLE = "unsendable"
    OTHER = "other"

    @property
    def retryable(self) -> bool:
        """Whether asking again (with the same client order id, so never twice) may help:
        only when the venue did not judge the order at all."""
        return self in (RefusalKind.RATE_LIMITED, RefusalKind.UNREACHABLE)
