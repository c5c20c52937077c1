"""What is wrong with a position right now, in words an operator can act on."""

from decimal import Decimal

from trueup.domain.book import AccountBook
from trueup.domain.instants import iso
from trueup.domain.keys import PositionKey
from trueup.domain.rules.account import AccountDetectors
from trueup.domain.rules.can_open_facts import unreported_fills
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.drift import differs
from trueup.domain.rules.untracked import is_untracked

# What is wrong, and when its grace ends (None: it has none): past that instant, a finding
# still pending is overdue, told at the account's next input.
Finding = tuple[str, int | None]


def open_findings(
    book: AccountBook, detectors: AccountDetectors, config: RuleConfig, key: PositionKey
) -> list[str]:
    return [text for text, _ in dated_findings(book, detectors, config, key)]


def dated_findings(
    book: AccountBook, detectors: AccountDetectors, config: RuleConfig, key: PositionKey
) -> list[Finding]:
    """``open_findings``, each with the instant its grace ends, where it is pending; of a
    key only trueup's fills have named too."""
    findings: list[Finding] = []
    filled = unreported_fills(book, key)
    if filled is not None:
        # The exchange column says 0 only because no report has come: can-open holds it.
        text = (
            f"UNREPORTED {filled.side} {filled.size}: trueup's fills opened it at "
            f"{iso(filled.opened_at)} and no report of the exchange has named it since: "
            "taken as held"
        )
        findings.append((text, None))
    position = book.positions.get(key)
    if position is None:
        return findings
    local_qty, exchange_qty = position.local_qty, position.exchange_qty
    if differs(local_qty, exchange_qty, config.drift_threshold_pct):
        findings.append(_drift(detectors, config, key, local_qty, exchange_qty))
    if is_untracked(book, key):
        due = detectors.untracked.due(key, config)
        if due is None:
            text = f"UNTRACKED exchange holds {exchange_qty}, no LIVE local position"
            findings.append((text, None))
        else:
            # Within its grace the finding is not yet one: the bot's intent may still come.
            text = (
                f"UNTRACKED_PENDING exchange holds {exchange_qty}, no LIVE local position: "
                f"UNTRACKED at {iso(due)} unless the bot claims it"
            )
            findings.append((text, due))
    closes = detectors.manual_close
    for local in position.open_local():
        flat_at = closes.awaited_since(local.position_id)
        if flat_at is not None:
            # Closed on the exchange; why, its fill may yet say (rules/manual_close.py).
            report_at = flat_at + config.close_cause_grace_ms
            text = (
                f"CLOSE_PENDING {local.position_id}: the exchange showed it flat at "
                f"{iso(flat_at)}: POSITION_CLOSED on the fill that says why, else at "
                f"{iso(report_at)}"
            )
            findings.append((text, report_at))
            continue
        why = detectors.stale.why(book, local)
        if why is not None:
            findings.append((f"STALE {local.position_id} ({why})", None))
        elif local.mode == "LIVE" and exchange_qty == 0:
            text = f"UNCONFIRMED {local.position_id}: the exchange has not shown it"
            findings.append((text, None))
    return findings


def _drift(
    detectors: AccountDetectors,
    config: RuleConfig,
    key: PositionKey,
    local_qty: Decimal,
    exchange_qty: Decimal,
) -> Finding:
    """The sides differ: DRIFT once CONSISTENCY_DRIFT has told it, pending until then."""
    apart = f"local {local_qty} vs exchange {exchange_qty}"
    if detectors.drift.unresolved(key) is not None:
        return f"DRIFT {apart}", None
    # Within its grace a fill in flight may still close the gap: no drift told yet.
    due = detectors.drift.due(key, config)
    # Every key is judged under the rules as they change (a RulesSet judges them all): only
    # an account whose judging failed, and so is vouched for no more, has sides unjudged.
    until = "" if due is None else f": DRIFT at {iso(due)} unless resolved"
    return f"DRIFT_PENDING {apart}{until}", due


def stale_positions(book: AccountBook, detectors: AccountDetectors) -> list[tuple[str, str]]:
    """(position_id, reason) of every open local record the exchange does not back."""
    found: list[tuple[str, str]] = []
    for key in sorted(book.positions):
        for local in book.positions[key].open_local():
            why = detectors.stale.why(book, local)
            if why is not None:
                found.append((local.position_id, why))
    return found
