"""Aster's REST API on the simulator: routes, security, faults and error payloads.

Security as futures-api-v1.md states it ("Endpoint Security Type"): NONE endpoints are open,
USER_STREAM ones need the ``X-MBX-APIKEY`` header, SIGNED ones also ``timestamp`` (within
``recvWindow``, 5000 ms by default, at most 60000) and ``signature`` (``signing``). The
/fapi/v3 paths answer as their v1 twins but authenticate as futures-api-v3.md says: an
approved API wallet's EIP-712 signature with a ``nonce`` (``agent_signing``).
Parameters come from the query string and the form body; the query string wins. Errors are
``{"code": ..., "msg": ...}`` with HTTP 400 (401 for a refused key); armed faults answer
HTTP 429 or 418 with -1003, or any error. Every answer carries ``X-MBX-USED-WEIGHT-1M``.
Not thread-safe: the simulator calls it under its lock.
"""

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import parse_qsl

import orjson

from trueup_simulators.aster import agent_signing, listings, order_entry, signing
from trueup_simulators.aster.account import Account, AccountError
from trueup_simulators.aster.agent_signing import Agents
from trueup_simulators.aster.listings import Body
from trueup_simulators.aster.order_entry import MANDATORY_PARAM, Refusal, mandatory
from trueup_simulators.aster.user_stream import INVALID_LISTEN_KEY, UserStream
from trueup_simulators.credentials import Credentials

Clock = Callable[[], int]
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
WEIGHT_LIMIT = 2400
RETRY_AFTER_SECONDS = 1
UNKNOWN = -1000
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
TOO_MANY_REQUESTS = -1003
LISTEN_KEY_PATH = "/fapi/v1/listenKey"


class Security(Enum):
    NONE = "NONE"
    USER_STREAM = "USER_STREAM"  # v1: the API key alone
    SIGNED = "SIGNED"  # v1: the API key and an HMAC signature
    AGENT = "AGENT"  # v3: an approved API wallet's EIP-712 signature, with a nonce


Handler = Callable[[Account, Mapping[str, str], int], Body]


def _acting(action: Callable[[Account, Mapping[str, str]], Body]) -> Handler:
    return lambda account, params, _now: action(account, params)


ROUTES: dict[tuple[str, str], tuple[Security, Handler]] = {
    ("GET", "/fapi/v1/ping"): (Security.NONE, listings.ping),
    ("GET", "/fapi/v1/time"): (Security.NONE, listings.server_time),
    ("GET", "/fapi/v1/exchangeInfo"): (Security.NONE, listings.exchange_info),
    ("GET", "/api/v1/exchangeInfo"): (Security.NONE, listings.spot_exchange_info),
    ("GET", "/fapi/v1/premiumIndex"): (Security.NONE, listings.premium_index),
    ("GET", "/fapi/v2/positionRisk"): (Security.SIGNED, listings.position_risk),
    ("GET", "/fapi/v1/openOrders"): (Security.SIGNED, listings.open_orders),
    ("GET", "/fapi/v1/openOrder"): (Security.SIGNED, listings.open_order),
    ("GET", "/fapi/v1/order"): (Security.SIGNED, listings.query_order),
    ("GET", "/fapi/v1/allOrders"): (Security.SIGNED, listings.all_orders),
    ("GET", "/fapi/v1/userTrades"): (Security.SIGNED, listings.user_trades),
    ("GET", "/fapi/v1/income"): (Security.SIGNED, listings.income),
    ("GET", "/fapi/v2/account"): (Security.SIGNED, listings.account_information),
    ("GET", "/fapi/v4/account"): (Security.SIGNED, listings.account_information),
    ("GET", "/fapi/v2/balance"): (Security.SIGNED, listings.balance),
    ("GET", "/fapi/v1/leverageBracket"): (Security.SIGNED, listings.leverage_bracket),
    ("GET", "/fapi/v1/positionSide/dual"): (Security.SIGNED, listings.position_mode),
    ("POST", "/fapi/v1/positionSide/dual"): (
        Security.SIGNED,
        _acting(order_entry.change_position_mode),
    ),
    ("POST", "/fapi/v1/order"): (Security.SIGNED, _acting(order_entry.new_order)),
    ("DELETE", "/fapi/v1/order"): (Security.SIGNED, _acting(order_entry.cancel_order)),
}
LISTEN_KEY_METHODS = ("POST", "PUT", "DELETE")
# The v3 paths (futures-api-v3.md) that answer as the v1 (or v2, v4) ones do.
V3_PATHS = {
    "/fapi/v3/ping": "/fapi/v1/ping",
    "/fapi/v3/time": "/fapi/v1/time",
    "/fapi/v3/exchangeInfo": "/fapi/v1/exchangeInfo",
    "/fapi/v3/premiumIndex": "/fapi/v1/premiumIndex",
    "/fapi/v3/positionRisk": "/fapi/v2/positionRisk",
    "/fapi/v3/openOrders": "/fapi/v1/openOrders",
    "/fapi/v3/openOrder": "/fapi/v1/openOrder",
    "/fapi/v3/order": "/fapi/v1/order",
    "/fapi/v3/allOrders": "/fapi/v1/allOrders",
    "/fapi/v3/userTrades": "/fapi/v1/userTrades",
    "/fapi/v3/income": "/fapi/v1/income",
    "/fapi/v3/accountWithJoinMargin": "/fapi/v4/account",
    "/fapi/v3/balance": "/fapi/v2/balance",
    "/fapi/v3/leverageBracket": "/fapi/v1/leverageBracket",
    "/fapi/v3/positionSide/dual": "/fapi/v1/positionSide/dual",
    "/fapi/v3/listenKey": LISTEN_KEY_PATH,
}
NONCE_EXPIRED = -4225  # the one v3 nonce code the docs show ("Nonce Expired")


@dataclass(frozen=True)
class RestAnswer:
    """What the simulator answered one REST request: for tests to check what a client saw."""

    method: str
    path: str
    status: int
    code: int | None  # the error payload's code; None for a success


@dataclass
class Reply:
    status: int
    body: Body
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> int | None:
        if self.status == 200 or not isinstance(self.body, dict):
            return None
        code = self.body.get("code")
        return code if isinstance(code, int) else None

    def text(self) -> str:
        return orjson.dumps(self.body).decode()


@dataclass(frozen=True)
class Fault:
    status: int
    code: int
    msg: str


@dataclass
class Faults:
    """Faults armed for the next requests, consumed one per request (or per keyed request)."""

    rest: deque[Fault] = field(default_factory=deque)
    refused_auths: int = 0


def error(code: int, msg: str, status: int = 400) -> Reply:
    return Reply(status, {"code": code, "msg": msg})


def rate_limited(status: int, now: int) -> Fault:
    """What Aster answers a request over the limit (429) or from a banned IP (418)."""
    if status == 418:
        until = now + 120_000  # bans start at two minutes
        msg = (
            f"Way too many requests; IP banned until {until}. Please use the websocket for "
            "live updates to avoid bans."
        )
    else:
        msg = (
            f"Too many requests; current limit is {WEIGHT_LIMIT} requests per minute. Please "
            "use the websocket for live updates to avoid polling the API."
        )
    return Fault(status, TOO_MANY_REQUESTS, msg)


class Rest:
    """Authenticates one REST request and answers it from the account, or with a fault."""

    def __init__(
        self,
        account: Account,
        *,
        user_stream: UserStream,
        credentials: Credentials,
        faults: Faults,
        wall_clock: Clock,
        agents: Agents,
        on_key_closed: Callable[[str], None],
    ) -> None:
        self.account, self.user_stream = account, user_stream
        self.credentials, self.faults, self.wall_clock = credentials, faults, wall_clock
        self.agents, self.on_key_closed = agents, on_key_closed
        self.answers: list[RestAnswer] = []
        self._weights: deque[int] = deque()

    def answer(
        self, method: str, path: str, query: str, raw_body: bytes, headers: Mapping[str, str]
    ) -> Reply:
        now = self.wall_clock()
        self._weights.append(now)
        while self._weights and self._weights[0] <= now - 60_000:
            self._weights.popleft()
        try:
            body = raw_body.decode()
        except UnicodeDecodeError:
            reply = error(ILLEGAL_CHARS, "Illegal characters found in a parameter.")
        else:
            reply = self._reply(method, path, query, body, headers=headers, now=now)
        reply.headers["X-MBX-USED-WEIGHT-1M"] = str(len(self._weights))
        if reply.status in (418, 429):
            reply.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        self.answers.append(RestAnswer(method, path, reply.status, reply.code))
        return reply

    def _reply(
        self, method: str, path: str, query: str, body: str, *, headers: Mapping[str, str], now: int
    ) -> Reply:
        v3 = path in V3_PATHS
        path = V3_PATHS.get(path, path)
        if path == LISTEN_KEY_PATH and method in LISTEN_KEY_METHODS:
            security = Security.USER_STREAM
            handler: Handler | None = None
        elif (method, path) in ROUTES:
            security, handler = ROUTES[(method, path)]
        else:
            return Reply(404, {"code": UNKNOWN, "msg": f"Not found: {method} {path}"})
        if v3 and security != Security.NONE:
            security = Security.AGENT
        if self.faults.rest:
            fault = self.faults.rest.popleft()
            return error(fault.code, fault.msg, fault.status)
        try:
            params = _params(query, body)
            if security == Security.AGENT:
                self._check_agent(params, query, body, now)
            elif security != Security.NONE:
                self._check_key(headers)
            if security == Security.SIGNED:
                self._check_signed(params, query, body, now)
            if handler is None:
                return Reply(200, self._listen_key(method))
            return Reply(200, handler(self.account, params, now))
        except Refusal as refusal:
            return error(refusal.code, refusal.msg, refusal.status)
        except AccountError as refused:  # a request order entry let through: still an answer
            return error(UNKNOWN, str(refused))

    def _check_refused(self) -> None:
        if self.faults.refused_auths > 0:
            self.faults.refused_auths -= 1
            raise Refusal(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_key(self, headers: Mapping[str, str]) -> None:
        self._check_refused()
        key = headers.get("X-MBX-APIKEY", "")
        if not key:
            raise Refusal(BAD_API_KEY_FMT, "API-key format invalid.", 401)
        if key != self.credentials.api_key:
            raise Refusal(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_signed(self, params: Mapping[str, str], query: str, body: str, now: int) -> None:
        timestamp = mandatory(params, "timestamp")
        if not timestamp.isdigit() or len(timestamp) > 19:
            raise Refusal(
                MANDATORY_PARAM,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )
        window = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
        if not window.isdigit() or not 0 < int(window) <= MAX_RECV_WINDOW:
            raise Refusal(
                order_entry.INVALID_PARAMETER, "Data sent for parameter 'recvWindow' is not valid."
            )
        sent = int(timestamp)
        if sent >= now + 1000:
            raise Refusal(
                INVALID_TIMESTAMP,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            )
        if now - sent > int(window):
            raise Refusal(
                INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow."
            )
        signed = signing.signed_part(query, body)
        if signed is None:
            raise Refusal(
                MANDATORY_PARAM,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            )
        if not signing.verify(self.credentials.api_secret, *signed):
            raise Refusal(INVALID_SIGNATURE, "Signature for this request is not valid.")

    def _check_agent(self, params: Mapping[str, str], query: str, body: str, now: int) -> None:
        """v3: an approved signer of this account signed the parameters, with a fresh nonce."""
        self._check_refused()
        signer, nonce = mandatory(params, "signer").lower(), mandatory(params, "nonce")
        user = params.get("user", self.agents.user).lower()
        if user != self.agents.user or signer not in self.agents.signers:
            raise Refusal(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401)
        if not nonce.isdigit() or len(nonce) > 19:
            raise Refusal(
                MANDATORY_PARAM,
                "Mandatory parameter 'nonce' was not sent, was empty/null, or malformed.",
            )
        signed = signing.signed_part(query, body)
        if signed is None:
            raise Refusal(
                MANDATORY_PARAM,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            )
        if agent_signing.signer_of(*signed) != signer:
            raise Refusal(INVALID_SIGNATURE, "Signature for this request is not valid.")
        if self.agents.nonces.refusal(int(nonce), now * 1000):
            raise Refusal(NONCE_EXPIRED, "Nonce Expired")

    def _listen_key(self, method: str) -> Body:
        if method == "POST":
            return {"listenKey": self.user_stream.start()}
        if method == "PUT":
            if not self.user_stream.keep_alive():
                raise Refusal(INVALID_LISTEN_KEY, "This listenKey does not exist.")
            return {}
        closed = self.user_stream.close()
        if closed is None:
            raise Refusal(INVALID_LISTEN_KEY, "This listenKey does not exist.")
        self.on_key_closed(closed)
        return {}


def _params(query: str, body: str) -> dict[str, str]:
    """The request's parameters; a name sent in both the query string and the body takes the
    query string's value, a name twice in one of them is refused."""
    merged: dict[str, str] = {}
    for part in (body, query):
        seen: set[str] = set()
        for name, value in parse_qsl(part, keep_blank_values=True):
            if name in seen:
                raise Refusal(TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.")
            seen.add(name)
            merged[name] = value
    return merged
