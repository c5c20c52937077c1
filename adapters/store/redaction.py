"""Masking store passwords in anything shown or logged: URLs, libpq strings, driver errors.

The patterns work on text that does not parse as well as on text that does: a store URL
that cannot be opened is exactly the one whose message must still hide its password.
"""

import re
from collections.abc import Iterable

MASK = "***"
# Shorter known secrets are left to the patterns: masking every "ab" would garble messages.
SHORTEST_ECHOED_SECRET = 4

# scheme://user:PASSWORD@host... : up to the line's last "@", since a password may hold one.
_URL_PASSWORD = re.compile(r"(?P<keep>://[^:/@\s]*:)[^\n]*@")
# ...?password=PASSWORD&... in a URL's query string.
_QUERY_PASSWORD = re.compile(r"(?P<keep>[?&]password=)[^&#\s]*", re.IGNORECASE)
# password=PASSWORD in a libpq key=value string (PGPASSWORD=... too): a quoted value, or all
# up to the next "key=" or quote (an unquoted value with a space is still the password).
_KEYWORD_PASSWORD = re.compile(
    r"(?<![?&])(?P<keep>password\s*=\s*)"
    r"(?:'(?:[^'\\]|\\.)*'?|[^'\"\n]*?(?=\s+\w+\s*=|['\"]|$))",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED = re.compile(r'"([^"]*)"')


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every password in it masked: in URLs, query strings, key=value strings,
    and any of ``secrets`` (passwords known to the caller) wherever they are echoed."""
    for secret in secrets:
        if len(secret) >= SHORTEST_ECHOED_SECRET:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(rf"\g<keep>{MASK}@", text)
    text = _QUERY_PASSWORD.sub(rf"\g<keep>{MASK}", text)
    return _KEYWORD_PASSWORD.sub(rf"\g<keep>{MASK}", text)


def redact_echo(message: str, given: str) -> str:
    """A parser's complaint about ``given`` with any quoted piece of its password masked.

    libpq quotes the part it choked on ('unexpected spaces found in "se cret"'), which may
    be the password itself: a quoted piece of ``given`` that its redacted form no longer
    holds is masked.
    """
    hidden = redact(given)

    def mask(quoted: re.Match[str]) -> str:
        piece = quoted.group(1)
        return f'"{MASK}"' if piece and piece in given and piece not in hidden else quoted[0]

    return redact(_QUOTED.sub(mask, message))
