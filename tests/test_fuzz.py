"""The fuzz target, briefly (issue 7): hostile capture lines never break the input path.

Every line must decode to one event (a rejected one for bad input), round-trip its stored
form, fold and run the rules without raising, and leave the read commands printable; see
tests/fuzz. ``make fuzz LINES=1000000`` runs the same checks long.
"""

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz import corpus, harness, store, strategies
from tests.fuzz.checks import Session
from tests.fuzz.crashes import Crash
from tests.fuzz.minimise import minimise
from tests.fuzz.tree import dump
from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted
from trueup.domain.events import InputEvent, LocalPositionOpened
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes, Phases

# Hypothesis does not shrink here: the harness's own minimiser names the smallest
# reproducer of each crash, and a failing run stays as brief as a passing one.
BRIEF = settings(
    max_examples=400,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
)


def described(crashes: list[Crash]) -> str:
    """One shrunk reproducer for each kind of crash among ``crashes``."""
    kinds = {crash.signature: crash for crash in crashes}
    return "\n\n".join(minimise(crash, budget_s=1.0).describe() for crash in kinds.values())


def test_seed_sessions_pass_every_check_and_the_store_and_audit_trips() -> None:
    for session in corpus.sessions():
        lines = [dump(record) for record in session]
        checked = Session()
        crashes = checked.check_lines(lines) + store.round_trip(lines) + store.audit_trip(lines)
        assert not crashes, described(crashes)
        assert checked.count.accepted >= 0.7 * len(lines)


@BRIEF
@given(strategies.sessions())
def test_mutated_sessions_never_crash(lines: list[bytes]) -> None:
    crashes = Session().check_lines(lines)
    assert not crashes, described(crashes)


def test_random_loop_with_store_and_audit_trips() -> None:
    summary = harness.run(lines=3_000, seed=7, store_every=1_000, minimise_s=1.0, store_lines=300)
    assert summary.store_trips >= 3
    assert summary.audit_trips >= 10
    assert not summary.classes, harness.report(summary)
    assert summary.count.lost == 0


def test_random_loop_with_store_and_audit_trips_on_postgresql(postgres_server_url: str) -> None:
    """What SQLite holds and PostgreSQL cannot (a NUL in text, a number beyond 32 bits)."""
    with store.on_postgresql(postgres_server_url):
        summary = harness.run(
            lines=2_000, seed=8, store_every=1_000, minimise_s=1.0, store_lines=300
        )
    assert summary.store_trips >= 2
    assert not summary.classes, harness.report(summary)


class Broken(Detector):
    """A rule with a fault: it raises on every local position opened."""

    __slots__ = ()

    def judged(self) -> EventTypes:
        return (LocalPositionOpened,)

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        raise ZeroDivisionError("planted")


def test_a_rule_that_raises_is_a_crash_of_the_fold_named_where_it_broke() -> None:
    # The reconciler would note it as a fault of its account and go on; the fuzzer sees it.
    session = next(iter(corpus.sessions()))
    checks = Session()
    detectors = checks.reconciler.detectors("bybit", "main")  # the session's account
    detectors._phases = Phases.of((*detectors.in_order, Broken()), detectors.timed)
    crashes = checks.check_lines([dump(record) for record in session])
    folds = [c for c in crashes if c.stage == "fold"]  # the audits fold too: "reads"
    assert folds
    assert {(c.kind, "test_fuzz.py" in c.where) for c in folds} == {("ZeroDivisionError", True)}
