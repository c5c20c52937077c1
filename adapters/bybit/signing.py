"""Bybit V5 HMAC-SHA256 signatures, as its docs define them for REST requests and WS auth.

Shared by the simulator (which verifies) and any client of ours (which signs), so both sides
agree byte for byte on what is signed.
"""

import hashlib
import hmac
from collections.abc import Mapping

# A REST timestamp is accepted from recv_window ms in the past to this far in the future.
FUTURE_TOLERANCE_MS = 1000
DEFAULT_RECV_WINDOW = 5000


def hmac_sha256(secret: str, text: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``text`` keyed by ``secret``."""
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def rest_signature(
    secret: str, *, timestamp: int, api_key: str, recv_window: int, payload: str
) -> str:
    """X-BAPI-SIGN: HMAC(timestamp + api_key + recv_window + queryString or JSON body)."""
    return hmac_sha256(secret, f"{timestamp}{api_key}{recv_window}{payload}")


def rest_headers(
    api_key: str,
    secret: str,
    *,
    timestamp: int,
    payload: str,
    recv_window: int = DEFAULT_RECV_WINDOW,
) -> dict[str, str]:
    """The four authentication headers of a signed V5 request."""
    signature = rest_signature(
        secret, timestamp=timestamp, api_key=api_key, recv_window=recv_window, payload=payload
    )
    return {
        "X-BAPI-API-KEY": api_key,
        "X-BAPI-TIMESTAMP": str(timestamp),
        "X-BAPI-RECV-WINDOW": str(recv_window),
        "X-BAPI-SIGN": signature,
    }


def timestamp_in_window(timestamp: int, recv_window: int, server_time: int) -> bool:
    """Bybit's rule: server_time - recv_window <= timestamp < server_time + 1000."""
    return server_time - recv_window <= timestamp < server_time + FUTURE_TOLERANCE_MS


def ws_auth_signature(secret: str, expires: int) -> str:
    """The third argument of ``{"op": "auth"}``: HMAC("GET/realtime" + expires)."""
    return hmac_sha256(secret, f"GET/realtime{expires}")


def same_signature(expected: str, given: str) -> bool:
    """Constant-time comparison, so a probe learns nothing from response times."""
    return hmac.compare_digest(expected.encode(), given.encode())


def verify_rest(
    headers: Mapping[str, str], payload: str, *, api_key: str, secret: str, now: int
) -> int:
    """The retCode Bybit answers a signed request with: 0 if it passes, else why it fails.

    10003 unknown key, 10001 unreadable timestamp or window, 10002 outside the window,
    10004 wrong signature. ``payload`` is the query string exactly as sent (or the body).
    """
    if headers.get("X-BAPI-API-KEY") != api_key:
        return 10003
    try:
        timestamp = int(headers.get("X-BAPI-TIMESTAMP", ""))
        recv_window = int(headers.get("X-BAPI-RECV-WINDOW", DEFAULT_RECV_WINDOW))
    except ValueError:
        return 10001
    if not timestamp_in_window(timestamp, recv_window, now):
        return 10002
    expected = rest_signature(
        secret, timestamp=timestamp, api_key=api_key, recv_window=recv_window, payload=payload
    )
    return 0 if same_signature(expected, headers.get("X-BAPI-SIGN", "")) else 10004
