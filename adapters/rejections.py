"""What kind of refusal an input is (domain RejectionKind), judged by its venue's adapter:
each venue says which of its error replies mean "too often"; the rules read only the kind."""

from collections.abc import Callable

from trueup.adapters.aster import wire as aster_wire
from trueup.adapters.bybit import wire as bybit_wire
from trueup.adapters.ccxt import wire as ccxt_wire
from trueup.adapters.hyperliquid import wire as hyperliquid_wire
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput
from trueup.domain.events import InputRejected, RejectionKind

RATE_LIMITED_BY: dict[str, Callable[[ErrorReply], bool]] = {
    "bybit": bybit_wire.rate_limited,
    "hyperliquid": hyperliquid_wire.rate_limited,
    "aster": aster_wire.rate_limited,
    ccxt_wire.FAMILY: ccxt_wire.rate_limited,
}


def kind_of(venue: str, error: ErrorReply | MalformedInput) -> RejectionKind:
    """The kind of refusal ``error`` is, for an input of ``venue``."""
    if isinstance(error, ErrorReply):
        rate_limited = RATE_LIMITED_BY.get(ccxt_wire.family(venue))
        if rate_limited is not None and rate_limited(error):
            return RejectionKind.RATE_LIMITED
        if error.http_status == 0:
            return RejectionKind.UNREACHABLE
        return RejectionKind.ERROR_REPLY
    if isinstance(error, ControlMessage):
        return RejectionKind.CONTROL
    if isinstance(error, UnknownInput):
        return RejectionKind.UNKNOWN
    return RejectionKind.MALFORMED


def stored_kind(event: InputRejected) -> RejectionKind:
    """The kind of a refusal stored before refusals had one, worked out again from what it
    kept: its venue's error codes, and its reason."""
    if event.ret_code is not None or event.http_status is not None:
        error = ErrorReply(event.reason, ret_code=event.ret_code, http_status=event.http_status)
        return kind_of(event.venue, error)
    if "a control message" in event.reason:
        return RejectionKind.CONTROL
    if "trueup reads" in event.reason:
        return RejectionKind.UNKNOWN
    return RejectionKind.MALFORMED
