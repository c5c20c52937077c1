"""Bad usage: arguments or input the command cannot act on."""

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Exits 2 with the message, on one line, with no traceback."""
