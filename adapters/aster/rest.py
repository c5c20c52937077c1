"""Aster's v1 REST, signed with HMAC, over httpx: each reply as it came, never raised.

No official Aster Python client exists. ccxt's ``aster`` could not be pinned beside our
locked dependencies, and its private calls sign v3 only; Aster's v1 is Binance's API, small
enough to sign here (signing.py) on httpx, which trueup already depends on.
"""

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from trueup.adapters.aster import signing

MAINNET_REST_URL = "https://fapi.asterdex.com"
LISTEN_KEY = "/fapi/v1/listenKey"
TIMEOUT_S = 10.0
# Codes by which Aster refuses our credentials: -2015 a key it does not take (or not from
# this IP, or not for this), -2014 a key not even of the form, -1022 a signature that does
# not match (a wrong secret).
REFUSED_KEY_CODES = frozenset({-2015, -2014, -1022})


@dataclass(frozen=True)
class Reply:
    """One answer: its HTTP status (0: none came) and body (None: none, or not JSON)."""

    status: int
    body: Any

    @property
    def code(self) -> int | None:
        """Aster's error code, when the body is its ``{"code", "msg"}``."""
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, int) else None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code is None

    @property
    def refused_key(self) -> bool:
        return self.code in REFUSED_KEY_CODES


class AsterRest:
    """Requests signed with the account's key and secret, public GETs, and the listenKey's
    calls."""

    def __init__(self, api_key: str, api_secret: str, *, base_url: str, clock: Any) -> None:
        self._secret = api_secret
        self._clock = clock
        # The key travels in a header only, so no URL we log or record carries it.
        self._http = httpx.Client(
            base_url=base_url, timeout=TIMEOUT_S, headers={"X-MBX-APIKEY": api_key}
        )

    def get(self, path: str, params: dict[str, Any]) -> Reply:
        """A SIGNED GET of ``path`` with ``params`` (in their order), stamped now."""
        return self.signed("GET", path, params)

    def signed(self, method: str, path: str, params: dict[str, Any]) -> Reply:
        """A SIGNED request (GET, POST or DELETE) with ``params`` in its query string, which
        the docs let a POST or DELETE send in place of a body."""
        query = signing.signed_query(self._secret, params, timestamp=self._clock())
        return self._send(method, f"{path}?{query}")

    def public(self, path: str) -> Reply:
        """A GET of a NONE endpoint (exchangeInfo): nothing signed."""
        return self._send("GET", path)

    def listen_key(self, method: str) -> Reply:
        """POST (start, or the active key extended), PUT (keep alive) or DELETE the user
        data stream's listenKey: the key alone, unsigned (USER_STREAM)."""
        return self._send(method, LISTEN_KEY)

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, url: str) -> Reply:
        try:
            response = self._http.request(method, url)
        except httpx.HTTPError:
            return Reply(0, None)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None  # a 429 in plain text, a proxy's HTML page
        return Reply(response.status_code, body)
