"""What kind of refusal an input is (domain RejectionKind), judged by its venue's adapter:
each venue says which of its error replies mean "too often"; the rules read only the kind."""

from trueup.adapters import venues
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput
from trueup.domain.events import InputRejected, RejectionKind


def kind_of(venue: str, error: ErrorReply | MalformedInput) -> RejectionKind:
    """The kind of refusal ``error`` is, for an input of ``venue``."""
    if isinstance(error, ErrorReply):
        known = venues.find(venue)
        if known is not None and known.wire().rate_limited(error):
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
