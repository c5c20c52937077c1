"""Aster's v1 request signature (futures-api-v1.md, "SIGNED Endpoint Security").

``signature`` is HMAC-SHA256, keyed with the secret, over ``totalParams``: the query string
concatenated with the request body, exactly as sent, with no ``&`` between them. The
signature must be the last parameter of the one it is sent in; it is not case sensitive.
"""

from trueup.adapters.aster.signing import sign
from trueup.adapters.bybit.signing import same_signature

__all__ = ["sign", "signed_part", "verify"]  # sign: the one our client signs with
SIGNATURE = "signature="


def signed_part(query: str, body: str) -> tuple[str, str] | None:
    """(totalParams without the signature, the signature sent), or None if none was sent."""
    for in_body, where in ((True, body), (False, query)):
        at = where.rfind(SIGNATURE)
        if at == -1 or (at > 0 and where[at - 1] != "&"):
            continue
        signature = where[at + len(SIGNATURE) :]
        if "&" in signature:
            continue  # not the last parameter: the documented form is violated
        unsigned = where[: max(at - 1, 0)]
        return (query + unsigned, signature) if in_body else (unsigned + body, signature)
    return None


def verify(secret: str, total_params: str, signature: str) -> bool:
    return same_signature(sign(secret, total_params), signature.strip().lower())
