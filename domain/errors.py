"""Why an input could not be turned into a domain event."""


class MalformedInput(ValueError):
    """An input that does not match its documented format; the message says where."""


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


def shown(value: object) -> str:
    """A wire value for an error message, kept short: containers by kind and size, text cut."""
    if isinstance(value, dict | list):
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
