"""Subjects: every account name travels as a valid subject token, and comes back unchanged."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trueup.adapters.nats.subjects import NotAToken, Subjects, decode_token, encode_token

# What NATS takes in a token: printable, no '.', '*' or '>', no white space, not empty. Ours
# are stricter still: plain ASCII that every client library and shell passes untouched.
VALID_TOKEN = re.compile(r"[A-Za-z0-9_~-]+")


@given(st.text())
def test_any_account_name_is_encoded_as_one_valid_token_and_decoded_back(name: str) -> None:
    token = encode_token(name)
    assert VALID_TOKEN.fullmatch(token)
    assert decode_token(token) == name


@given(st.text(), st.text())
def test_two_names_never_share_a_token(one: str, other: str) -> None:
    if one != other:
        assert encode_token(one) != encode_token(other)


def test_plain_names_travel_as_themselves_and_others_are_escaped() -> None:
    assert encode_token("main") == "main"
    address = "0x" + "ab" * 20
    assert encode_token(address) == address
    assert encode_token("desk.eu") == "desk~2Eeu"
    assert encode_token("a b*>") == "a~20b~2A~3E"
    assert encode_token("~") == "~7E"
    assert encode_token("") == "~"
    assert encode_token("ü") == "~C3~BC"


@pytest.mark.parametrize("token", ["desk.eu", "a~2e", "~7", "~4D", "", "~~", "~FF"])
def test_a_token_encode_could_not_have_written_is_refused(token: str) -> None:
    with pytest.raises(NotAToken):
        decode_token(token)


def test_inputs_and_events_subjects_and_the_streams_they_belong_to() -> None:
    subjects = Subjects()
    assert subjects.inputs("bybit", "desk.eu") == "trueup.inputs.bybit.desk~2Eeu"
    assert subjects.events("bybit", "main", "POSITION_CLOSED") == (
        "trueup.events.bybit.main.POSITION_CLOSED"
    )
    assert subjects.inputs("", "") == "trueup.inputs.~.~"  # the rules: no account
    assert subjects.account_of("trueup.inputs.bybit.desk~2Eeu") == ("bybit", "desk.eu")
    assert (subjects.inputs_stream, subjects.all_inputs) == ("TRUEUP_INPUTS", "trueup.inputs.>")
    assert (subjects.events_stream, subjects.all_events) == ("TRUEUP_EVENTS", "trueup.events.>")
    assert subjects.events_filter(account="desk.eu") == "trueup.events.*.desk~2Eeu.*"
    assert subjects.events_filter(type_="STALE_POSITION") == "trueup.events.*.*.STALE_POSITION"


def test_a_prefix_names_a_second_set_of_subjects_and_streams() -> None:
    staging = Subjects("staging")
    assert staging.inputs("bybit", "main") == "staging.inputs.bybit.main"
    assert staging.inputs_stream == "STAGING_INPUTS"
    with pytest.raises(ValueError, match="not a subject prefix"):
        Subjects("trueup.>")


def test_can_open_is_asked_on_one_subject_per_account_and_answered_by_one_queue_group() -> None:
    subjects = Subjects()
    assert subjects.can_open("bybit", "main") == "trueup.can-open.bybit.main"
    assert subjects.can_open("bybit", "desk.eu") == "trueup.can-open.bybit.desk~2Eeu"
    assert subjects.account_of("trueup.can-open.bybit.desk~2Eeu") == ("bybit", "desk.eu")
    assert subjects.all_can_open == "trueup.can-open.*.*"
    assert subjects.can_open_queue == "trueup-can-open"
    staging = Subjects("staging")
    assert staging.can_open("hyperliquid", "a b") == "staging.can-open.hyperliquid.a~20b"
    assert (staging.all_can_open, staging.can_open_queue) == (
        "staging.can-open.*.*",
        "staging-can-open",
    )


@given(st.text(), st.text())
def test_every_account_is_asked_on_a_subject_the_responders_subscription_matches(
    venue: str, account: str
) -> None:
    subject = Subjects().can_open(venue, account)
    # '*' matches exactly one token: the subject has the filter's four, and its own two
    # decode back to the names.
    assert len(subject.split(".")) == len(Subjects().all_can_open.split(".")) == 4
    assert Subjects().account_of(subject) == (venue, account)
