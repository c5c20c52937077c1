"""Aster's v1 request signature (futures-api-v1.md, "SIGNED Endpoint Security").

``signature`` is HMAC-SHA256, keyed with the secret, over ``totalParams``: the query string
then the body, exactly as sent. Shared by our client (which signs) and the simulator (which
verifies), so both agree byte for byte on what is signed.
"""

from collections.abc import Mapping
from urllib.parse import urlencode

from trueup.adapters.bybit.signing import hmac_sha256

# How far behind the server's clock a request may be (ms); the docs' default.
RECV_WINDOW = 5000


def sign(secret: str, total_params: str) -> str:
    """The signature a client appends to ``total_params``."""
    return hmac_sha256(secret, total_params)


def signed_query(secret: str, params: Mapping[str, object], *, timestamp: int) -> str:
    """The query string of a signed GET: ``params``, ``recvWindow`` and ``timestamp``, then
    ``signature`` last, as the docs require."""
    query = urlencode({**params, "recvWindow": RECV_WINDOW, "timestamp": timestamp})
    return f"{query}&signature={sign(secret, query)}"
