"""Aster's v3 request signature (futures-api-v3.md, "Authentication signature payload" and
"Example of POST /fapi/v3/order"): an API wallet (the ``signer``, an agent of the ``user``)
signs EIP-712 typed data whose one field ``msg`` is the request's parameters as sent
(query string and body, ``nonce`` and ``signer`` among them), the signature last.

The server recovers the address that signed and checks it is the ``signer`` named, and that
the ``nonce`` (microseconds) is within 10 s of its clock and not seen among the user's
latest 100.
"""

from collections import deque
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.messages import encode_typed_data

NONCE_WINDOW_MICROS = 10_000_000
NONCES_KEPT = 100
# The typed data every v3 request is signed as (the docs' example, chainId 1666).
DOMAIN = {
    "name": "AsterSignTransaction",
    "version": "1",
    "chainId": 1666,
    "verifyingContract": "0x0000000000000000000000000000000000000000",
}
TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Message": [{"name": "msg", "type": "string"}],
}


def typed_data(total_params: str) -> dict[str, object]:
    """The EIP-712 document a v3 client signs for these parameters."""
    return {
        "types": TYPES,
        "primaryType": "Message",
        "domain": DOMAIN,
        "message": {"msg": total_params},
    }


def signer_of(total_params: str, signature: str) -> str | None:
    """The address (lower case) whose key made ``signature``; None if it is no signature."""
    try:
        raw = bytes.fromhex(signature.strip().removeprefix("0x"))
        message = encode_typed_data(full_message=typed_data(total_params))
        return str(Account.recover_message(message, signature=raw)).lower()
    except Exception:  # malformed hex or a signature no key could make: nobody signed it
        return None


@dataclass
class Nonces:
    """A user's latest nonces, for the docs' replay rule."""

    seen: deque[int] = field(default_factory=deque)

    def refusal(self, nonce: int, now_micros: int) -> str:
        """Why ``nonce`` is refused ("" to accept it, and remember it)."""
        if abs(now_micros - nonce) > NONCE_WINDOW_MICROS:
            return "outside the 10 s window"
        if nonce in self.seen:
            return "already used"
        if len(self.seen) >= NONCES_KEPT and nonce < min(self.seen):
            return "older than the latest 100"
        self.seen.append(nonce)
        if len(self.seen) > NONCES_KEPT:
            self.seen.popleft()
        return ""


@dataclass
class Agents:
    """The account's wallet (``user``), the API wallets approved to sign for it, its nonces."""

    user: str
    signers: set[str] = field(default_factory=set)
    nonces: Nonces = field(default_factory=Nonces)

    def __post_init__(self) -> None:
        self.user = self.user.lower()
        self.signers = {s.lower() for s in self.signers}
