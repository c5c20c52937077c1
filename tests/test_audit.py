"""The audit: every input that changed a position, and the position as it stood after each."""

from tests.inputs import event
from tests.scenarios import busy_session
from trueup.domain.book import fold
from trueup.projections.audit import audit, position_state

EVENTS = [event(record) for record in busy_session(400)]


def test_each_timeline_entry_holds_the_state_folded_up_to_its_input() -> None:
    result = audit("bybit", "main", EVENTS, symbol="BTCUSDT")
    assert len(result.timeline) > 50
    by_id = {e.input_id: i for i, e in enumerate(EVENTS)}
    for entry in result.timeline:
        prefix = EVENTS[: by_id[entry.input_id] + 1]
        book = fold("bybit", "main", prefix)
        assert entry.state == position_state(book, book.positions[entry.key])


def test_as_of_an_instant_gives_the_state_then() -> None:
    instant = EVENTS[len(EVENTS) // 2].at
    result = audit("bybit", "main", EVENTS, symbol="BTCUSDT", as_of=instant)
    book = fold("bybit", "main", [e for e in EVENTS if e.at <= instant])
    (key,) = result.keys
    assert result.state(key) == position_state(book, book.positions[key])
    assert all(entry.at <= instant for entry in result.timeline)


def test_an_input_that_changes_nothing_is_not_in_the_timeline() -> None:
    twice = EVENTS + EVENTS
    assert len(audit("bybit", "main", twice, symbol="BTCUSDT").timeline) == len(
        audit("bybit", "main", EVENTS, symbol="BTCUSDT").timeline
    )
