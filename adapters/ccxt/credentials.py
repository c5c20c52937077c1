"""A ccxt exchange's credentials, from the environment only: CCXT_<ID>_<NAME>."""

from collections.abc import Mapping

# ccxt's credential fields (Exchange.requiredCredentials), by the end of their variable's name.
FIELDS = {
    "apiKey": "API_KEY",
    "secret": "SECRET",
    "password": "PASSWORD",
    "uid": "UID",
    "login": "LOGIN",
    "twofa": "TWOFA",
    "privateKey": "PRIVATE_KEY",
    "walletAddress": "WALLET_ADDRESS",
    "token": "TOKEN",
    "accountId": "ACCOUNT_ID",
}
# Options some exchanges need beside them: Aster v3's API wallet (its signer address).
OPTIONS = {"signerAddress": "SIGNER_ADDRESS"}


def variable(exchange_id: str, field: str) -> str:
    """The environment variable of one credential field: CCXT_ASTER_API_KEY."""
    suffix = FIELDS.get(field) or OPTIONS[field]
    return f"CCXT_{exchange_id.upper()}_{suffix}"


def from_environment(
    exchange_id: str, environ: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The credentials and options set in ``environ`` for the exchange."""
    credentials = {
        f: environ[variable(exchange_id, f)]
        for f in FIELDS
        if environ.get(variable(exchange_id, f))
    }
    options = {
        f: environ[variable(exchange_id, f)]
        for f in OPTIONS
        if environ.get(variable(exchange_id, f))
    }
    return credentials, options


def missing(
    exchange_id: str, required: Mapping[str, bool], credentials: Mapping[str, str]
) -> list[str]:
    """The variables of the credentials the exchange requires that are not set."""
    return [
        variable(exchange_id, field)
        for field, needed in required.items()
        if needed and field in FIELDS and not credentials.get(field)
    ]
