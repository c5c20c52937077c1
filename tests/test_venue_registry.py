"""The venue registry (adapters/venues.py): which names are venues trueup reads, and how a
venue's definition builds its feed and clients from settings and an environment."""

import pytest

from trueup.adapters import venues
from trueup.adapters.clock import wall_clock
from trueup.adapters.hyperliquid.venue import VENUE as HYPERLIQUID
from trueup.adapters.venue import SettingRefused, Settings

ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


@pytest.mark.parametrize(
    ("name", "registered"),
    [
        ("bybit", "bybit"),
        ("hyperliquid", "hyperliquid"),
        ("aster", "aster"),
        ("ccxt:okx", "ccxt"),
        ("ccxt:binanceusdm", "ccxt"),
    ],
)
def test_a_venue_or_a_family_s_member_is_found_by_its_name(name: str, registered: str) -> None:
    venue = venues.find(name)
    assert venue is not None and venue.name == registered


@pytest.mark.parametrize("name", ["ccxt", "ccxt:", "ccxt:OKX", "bybit:main", "Bybit", "kraken", ""])
def test_a_name_that_is_no_venue_finds_none(name: str) -> None:
    # A family's own name names no exchange; a member's id is ccxt's, lower case.
    assert venues.find(name) is None


def test_the_operator_is_shown_each_venue_and_then_each_family() -> None:
    assert venues.SHOWN_NAMES == ["aster", "bybit", "hyperliquid", "ccxt:<exchange-id>"]


def settings(venue: str, account: str = "main", **environment: str) -> Settings:
    return Settings(venue, account, wall_clock, environment, base_url="http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("venue", "environment", "said"),
    [
        ("bybit", {}, "BYBIT_API_KEY is not set: the Bybit API key and secret come from the "),
        ("bybit", {"BYBIT_API_KEY": "k"}, "BYBIT_API_SECRET is not set: the Bybit API key"),
        ("aster", {"ASTER_API_KEY": "k"}, "ASTER_API_SECRET is not set: the Aster API key"),
        ("ccxt:okx", {}, "CCXT_OKX_API_KEY, CCXT_OKX_SECRET, CCXT_OKX_PASSWORD not set"),
    ],
)
def test_a_feed_reads_its_credentials_from_the_environment_it_is_given(
    venue: str, environment: dict[str, str], said: str
) -> None:
    found = venues.find(venue)
    assert found is not None
    with pytest.raises(SettingRefused) as refused:
        found.feed(settings(venue, **environment))
    assert str(refused.value).startswith(said)


# Each credential a venue's definition names, with the venue: its feed needs every one.
NAMED = [
    (venue.name, name)
    for venue in venues.VENUES
    if venue.credentials is not None
    for name in venue.credentials.names
]


@pytest.mark.parametrize(("venue", "unset"), NAMED)
def test_a_feed_refuses_to_start_without_each_credential_its_venue_names(
    venue: str, unset: str
) -> None:
    definition = venues.named(venue)
    assert definition.credentials is not None
    others = {name: "set" for name in definition.credentials.names if name != unset}
    with pytest.raises(SettingRefused) as refused:
        definition.feed(settings(venue, **others))
    assert str(refused.value) == f"{unset} is not set: {definition.credentials.why}"


@pytest.mark.parametrize("value", ["s3cr3t\n", "s3 cr3t", " s3cr3t", "s3cr\u00e9t", "s3cr3t\u201d"])
@pytest.mark.parametrize(("venue", "named"), NAMED)
def test_a_credential_holding_what_no_key_holds_is_refused_without_showing_it(
    venue: str, named: str, value: str
) -> None:
    """A key pasted with its line's end, or a curly quote: a header or a signature would
    fail on it every time, and read as a venue that cannot be reached."""
    definition = venues.named(venue)
    assert definition.credentials is not None
    given = {name: "set" for name in definition.credentials.names} | {named: value}
    with pytest.raises(SettingRefused) as refused:
        definition.feed(settings(venue, **given))
    said = str(refused.value)
    assert said.startswith(f"{named} holds a space, a control character or one beyond ASCII")
    assert "s3" not in said


# The last two: 64 hex digits, yet no key of secp256k1 (0, and past the curve's order):
# eth_account refused them with a traceback (a walkthrough).
@pytest.mark.parametrize(
    "key", ["0xnothex", "0x" + "ab" * 31, "ab" * 33, "0x" + "0" * 64, "0x" + "f" * 64]
)
def test_a_hyperliquid_signing_key_that_is_no_private_key_is_refused_in_one_line(
    key: str,
) -> None:
    execution = HYPERLIQUID.execution
    assert execution is not None
    with pytest.raises(SettingRefused) as refused:
        execution(settings("hyperliquid", account=ADDRESS, HYPERLIQUID_SECRET_KEY=key))
    assert str(refused.value) == (
        "HYPERLIQUID_SECRET_KEY is not a private key: 64 hex digits, after 0x or not, of a "
        "number from 1 to below secp256k1's order"
    )


def test_a_hyperliquid_account_is_an_address() -> None:
    with pytest.raises(SettingRefused, match=r"the user's address \(0x and 40 hex digits\)"):
        HYPERLIQUID.feed(settings("hyperliquid", account="main"))
    feed = HYPERLIQUID.feed(settings("hyperliquid", account=ADDRESS))
    assert feed.account == ADDRESS  # its reads are public: no key asked


def test_hyperliquid_orders_are_signed_with_a_key_from_the_environment() -> None:
    execution = HYPERLIQUID.execution
    assert execution is not None
    with pytest.raises(SettingRefused, match=r"^HYPERLIQUID_SECRET_KEY is not set: the key"):
        execution(settings("hyperliquid", account=ADDRESS))
