"""The client order id of a decision: the same on every call, and valid on both venues."""

import re

import pytest

from trueup.adapters.client_order_id import client_order_id


def test_one_decision_gives_one_id_for_both_venues() -> None:
    first, again = client_order_id("trigger-fired-42"), client_order_id("trigger-fired-42")
    assert first == again
    assert first.order_link_id.removeprefix("tu-") == first.cloid.removeprefix("0x")
    assert client_order_id("trigger-fired-43") != first


@pytest.mark.parametrize("decision", ["a", "7f0c-uuid-like", "x" * 500, "ünïcode décision"])
def test_the_ids_fit_each_venues_rules(decision: str) -> None:
    cid = client_order_id(decision)
    assert len(cid.order_link_id) <= 36
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cid.order_link_id)
    assert re.fullmatch(r"0x[0-9a-f]{32}", cid.cloid)


def test_an_empty_decision_id_is_refused() -> None:
    with pytest.raises(ValueError, match="decision id"):
        client_order_id("")
