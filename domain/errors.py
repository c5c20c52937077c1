"""An input that is not what its documented format says, and how wire values are shown in
what trueup says about it."""


class MalformedInput(ValueError):
    """An input that does not match its documented format; the message says where."""


def shown(value: object) -> str:
    """A wire value for an error message, kept short: containers by kind and size, text cut."""
    if isinstance(value, dict | list):
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
