"""Why an input could not be turned into a domain event."""


class MalformedInput(ValueError):
    """An input that does not match its documented format; the message says where."""


class UnknownInput(MalformedInput):
    """Well-formed, but of a topic, endpoint or kind trueup does not read."""


class ErrorReply(ValueError):
    """The venue answered with an error: a fact about the request, never about positions."""

    def __init__(self, ret_code: int, message: str) -> None:
        super().__init__(f"retCode {ret_code}: {message}")
        self.ret_code = ret_code
