"""What a venue's input may be other than a report: an error reply, a control message, a
topic trueup does not read. Each becomes an InputRejected of its kind (rejections.py)."""

from trueup.domain.errors import MalformedInput


class UnknownInput(MalformedInput):
    """Well-formed, but of a topic, endpoint or kind trueup does not read."""


class ControlMessage(UnknownInput):
    """A venue's message about the connection itself (a pong, a subscription's ack)."""


class ErrorReply(ValueError):
    """The venue answered with an error: a fact about the request, never about positions."""

    def __init__(
        self, message: str, *, ret_code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.ret_code = ret_code
        self.http_status = http_status
