"""The use cases: putting inputs in, recording operator actions, and every answer trueup gives.

Each takes typed arguments and returns a typed answer from trueup.application.answers (or,
can-open's, from application/can_open.py, which the command line asks directly); the entry
points (the CLI, and next HTTP and NATS) only translate to and from them.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence, Set
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock, Sink
from trueup.adapters.store.journal import PAGE, Appended, Decision, Journal
from trueup.application.answers import (
    JSON,
    AccountFreshness,
    Cleanup,
    CleanupReport,
    DeadLettersAcknowledged,
    DeliveryRecord,
    Diagnosis,
    EventPage,
    ExchangeCheck,
    IngestReport,
    NotificationTest,
    ScopeFreshness,
    StaleRecord,
    TriggerCommandReport,
)
from trueup.application.can_open import (
    CanOpenAnswer,
    CanOpenFacts,
    answer_can_open,
    can_open_facts,
    cased_otherwise,
    judge_can_open,
    misspelt_symbol,
    views_at,
)
from trueup.application.emitted_count import EmittedCount
from trueup.application.following import Following
from trueup.application.position_audit import SeveralLegs
from trueup.domain.coverage import Coverage, Vouched
from trueup.domain.emitted import Emitted, TriggerFailed, TriggerRefused
from trueup.domain.events import (
    InputEvent,
    InputRejected,
    NotificationAttempted,
    PositionsReported,
    TriggerCommanded,
)
from trueup.domain.instants import iso
from trueup.domain.keys import decision_key, sending_key
from trueup.domain.pnl_records import ClosedPosition
from trueup.domain.rules.can_open import AccountFacts, never_seen, stale_view
from trueup.domain.rules.config import RuleConfig
from trueup.domain.triggers.spec import TriggerCommand
from trueup.domain.triggers.trigger import Trigger
from trueup.domain.vocabulary import NotificationOutcome, PositionSide
from trueup.projections.ccxt import ccxt_position
from trueup.projections.partitions import tracked_position
from trueup.projections.position_json import risk_json
from trueup.projections.view_reader import ViewReader
from trueup.projections.views import AccountView, SymbolView, decode_closed, position_row

# Answers the views give load only what reading them takes. The replay (the reconciler, its
# detectors, the views built from them), the capture decoders, the ingest path and the audit
# are imported where they are used: a can-open on caught-up views starts in well under 0.2 s.
if TYPE_CHECKING:
    from trueup.adapters.notify.target import Target
    from trueup.application.ingest import IngestCount
    from trueup.application.loop_status import LoopStatus
    from trueup.domain.reconciler import Reconciler
    from trueup.projections.audit import Audit
    from trueup.projections.leased import LeasedProjection
    from trueup.projections.summary import Summary


@dataclass(frozen=True)
class ExchangeSource:
    """Where to ask an account's exchange: ``fetch`` hands one REST snapshot's replies, as
    capture records, to the function it is given (a venue feed's ``fetch_once``)."""

    venue: str
    account: str
    fetch: Callable[[Sink], object]


class TrueupService:
    """trueup's use cases over one journal."""

    def __init__(self, journal: Journal, clock: Clock = wall_clock) -> None:
        self.journal = journal
        self.clock = clock

    # --- putting inputs in --------------------------------------------------------------------

    def ingest(
        self,
        captures: Iterable[Iterable[bytes]],
        *,
        detect: bool = True,
        on_input: Callable[[InputEvent], object] | None = None,
        projection: "LeasedProjection | None" = None,
        progress: "IngestCount | None" = None,
    ) -> IngestReport:
        """Append capture lines; the detectors run as they go in while this process holds
        the projections, else the process that holds them does. ``on_input`` is told of
        each line's input as it is decoded. A long-running process passes the
        ``projection`` it runs (and keeps): its leases are not this call's to take or let go.
        ``progress`` is kept up to date as it goes: an interrupted caller reads it."""
        from trueup.application.ingest import Ingestor
        from trueup.projections.leased import LeasedProjection

        owned = projection is None
        if projection is None and detect:
            projection = LeasedProjection(self.journal)
        emitted: Counter[str] = Counter()
        last_stored = 0

        def run_detectors(appended: Appended | None) -> None:
            nonlocal last_stored
            if appended is not None:
                # Not appended.inputs[-1]: on PostgreSQL a batch's transactions need not
                # make one span (another writer's between them), and then it names none.
                last_stored = max(last_stored, appended.last_input)
            if projection is not None:
                emitted.update(e.type for e in projection.catch_up(appended))

        ingestor = Ingestor(
            self.journal, after_flush=run_detectors, on_input=on_input, count=progress
        )
        # Run here, it is this call's to let go (or, after an exception, to abandon).
        running = projection if projection is not None and owned else nullcontext()
        with running:
            for lines in captures:
                ingestor.ingest(lines)
        count = ingestor.count
        return IngestReport(
            accepted=count.accepted,
            rejected=count.rejected,
            duplicates=count.duplicates,
            blank=count.blank,
            emitted=dict(sorted(emitted.items())),
            detected_here=projection is None or projection.ever_held,
            last_stored=last_stored,
        )

    def detect(self) -> None:
        """Run the detectors over whatever is stored and not yet processed, where this process
        may (no other holds the projections): what an ingest does after its last batch."""
        from trueup.projections.leased import LeasedProjection

        with LeasedProjection(self.journal) as projection:
            projection.catch_up()

    def _append_detected(
        self, events: list[InputEvent], decisions: dict[str, Decision]
    ) -> Appended:
        """Append operator inputs carrying out ``decisions`` (by input id) and run the
        detectors over them, as ``ingest`` does, where this process may."""
        from trueup.projections.leased import LeasedProjection

        if not events:
            return Appended(0, 0)
        with LeasedProjection(self.journal) as projection:
            appended = self.journal.append(events, decisions)
            projection.catch_up(appended)
        return appended

    def put_rules_in_force(self, rules: RuleConfig, source: str) -> bool:
        """Record ``rules`` as in force from now on, unless they already are, or another
        process has just put them in force in place of the same rules (two workers reading
        one edited file): one decision, recorded once."""
        last = self.journal.last_rules_set()
        if (last.rules if last is not None else self.journal.rules_before_any()) == rules:
            return False
        from trueup.adapters import rule_changes

        record = rule_changes.record(self.clock(), rules, source)
        event = _decoded(orjson.dumps(record))
        changed = orjson.dumps(record["data"], option=orjson.OPT_SORT_KEYS).decode()
        key = decision_key("", "", "put_rules_in_force", last.input_id if last else "", changed)
        appended = self.journal.append([event], {event.input_id: Decision(key, source)})
        return not appended.taken

    def ask_exchange(
        self, venue: str, account: str, fetch: Callable[[Sink], object]
    ) -> ExchangeCheck:
        """One REST snapshot of the account asked of the exchange (``fetch`` hands on its
        replies), recorded as inputs like any other; says whether it was complete: every
        page of every position list in, none refused, none left unfinished."""
        records: list[JSON] = []
        fetch(records.append)
        lines = [orjson.dumps(record) for record in records]
        events = [_decoded(line) for line in lines]
        self.ingest([lines])
        positions = [e for e in events if isinstance(e, PositionsReported) and e.snapshot]
        refused = [e for e in events if isinstance(e, InputRejected)]
        why_not: str | None = None
        covered: tuple[Coverage, ...] = ()
        if refused:
            first = refused[0]
            why_not = f"{first.endpoint or 'a reply'} refused: {first.reason}"
        elif not positions:
            why_not = "no position list came back"
        else:
            book = _replay(self.journal, account=(venue, account)).book(venue, account)
            asked_at = min(e.at for e in positions)
            covered = tuple(v.coverage for v in book.vouched.values() if v.at >= asked_at)
            if book.snapshots.under_way():
                why_not = "a position list was left unfinished (pages missing)"
            elif not covered:
                why_not = "the position list did not complete"
        return ExchangeCheck(venue, account, len(events), why_not is None, why_not, covered)

    def stale_records(self, account: tuple[str, str] | None = None) -> list[StaleRecord]:
        """Every open local position the exchange does not back (of ``account``, if
        given), in account order."""
        from trueup.domain.rules.findings import stale_positions

        reconciler = _replay(self.journal, account=account)
        found: list[StaleRecord] = []
        for (venue, name), book in sorted(reconciler.books.items()):
            if account is not None and (venue, name) != account:
                continue
            detectors = reconciler.detectors_by_account[(venue, name)]
            for position_id, why in stale_positions(book, detectors):
                local = book.local_position(position_id)
                assert local is not None
                key = local.key
                held = book.positions[key].exchange_qty != 0
                found.append(
                    StaleRecord(
                        venue,
                        name,
                        position_id,
                        why,
                        held,
                        local.opened_at,
                        key.category,
                        key.symbol,
                    )
                )
        return found

    def clean_stale(
        self,
        how: Cleanup,
        operator: str,
        *,
        exchange: ExchangeSource | None = None,
        at: int | None = None,
        confirm: Callable[[list[StaleRecord]], bool] = lambda _: True,
        listed: Callable[[list[StaleRecord]], object] = lambda _: None,
        venue: str | None = None,
        account: str | None = None,
    ) -> CleanupReport:
        """Close stale local records as ``operator`` (of ``venue`` and ``account`` alone, if
        given); each close is an operator input, so an audit shows who cleaned what.
        ``listed`` is shown them all first, and ``confirm`` asked before closing any: it may
        say no. NOT_ON_EXCHANGE asks ``exchange`` first, for its account alone, and closes
        nothing unless that snapshot is complete: what the exchange holds is never judged
        from an old one."""
        check = None
        asked = None
        if how is Cleanup.NOT_ON_EXCHANGE:
            if exchange is None:
                raise ValueError("closing what the exchange does not hold asks the exchange")
            asked = (exchange.venue, exchange.account)
            check = self.ask_exchange(exchange.venue, exchange.account, exchange.fetch)
        stale = [
            r
            for r in self.stale_records(asked)
            if venue in (None, r.venue) and account in (None, r.account)
        ]
        listed(stale)
        if check is not None and not check.complete:
            return CleanupReport(stale, [], how.exit_reason, check)
        # The exchange's word that it holds nothing is as fresh as the check only where
        # the snapshot it took covers the symbol.
        not_held = [r for r in stale if not r.exchange_holds_key]
        uncovered = [r for r in not_held if check is not None and not check.covers(r)]
        chosen = {
            Cleanup.NONE: [],
            Cleanup.NOT_ON_EXCHANGE: [r for r in not_held if r not in uncovered],
            Cleanup.ALL: stale,
        }[how]
        if chosen and not confirm(chosen):
            chosen = []
        at = self.clock() if at is None else at
        closes = {
            _decoded(orjson.dumps(_clean_line(record, how.exit_reason, operator, at))): record
            for record in chosen
        }
        # Closing one opening of a local position is one decision, whoever makes it: of two
        # fix-stales at once, the journal stores the close of whichever goes in first.
        decisions = {
            event.input_id: Decision(_clean_decision(record), operator)
            for event, record in closes.items()
            if not isinstance(event, InputRejected)
        }
        appended = self._append_detected(list(closes), decisions)
        taken = {event.input_id: first for event, first in appended.taken}
        closed = [r for e, r in closes.items() if e.input_id not in taken]
        already = [(r, taken[e.input_id]) for e, r in closes.items() if e.input_id in taken]
        return CleanupReport(stale, closed, how.exit_reason, check, already, uncovered)

    def command_trigger(
        self, venue: str, account: str, data: JSON, *, at: int | None = None
    ) -> TriggerCommandReport:
        """Append one trigger command (an operator input, like a fix-stale close) and say
        what it did: the trigger it names, and why it was refused, if it was. Judged on the
        account replayed to now, exactly as the projection will judge it."""
        from trueup.adapters import trigger_commands

        replayed_from = self.journal.last_position()
        reconciler = _replay(self.journal, account=(venue, account))
        at = self.clock() if at is None else at
        if data.get("command") == TriggerCommand.CHANGE.value:
            trigger_id = str(data.get("trigger_id", ""))
            changed = _trigger_of(reconciler, venue, account, trigger_id)
            if changed is None:
                # Not recorded: with nothing to fill it from, the change would be refused as a
                # line missing its fields, not for the trigger it names.
                return TriggerCommandReport(
                    trigger_id, "", [f"no trigger {trigger_id} on {venue}/{account}"], []
                )
            data = trigger_commands.completed(data, changed.spec, at)
        withdrawn = _requested_order(reconciler, venue, account, data)
        if withdrawn is not None:
            # Its order not sent yet, the command withdraws it, if it can claim it from the
            # executor first (sending_key: judged by the journal, below).
            data = {**data, "withdraws": withdrawn}
        record = trigger_commands.record(at, venue, account, data)
        line = orjson.dumps(record)
        event = _decoded(line)
        trigger_id = getattr(event, "trigger_id", str(data.get("trigger_id", "")))
        unfit = _unfit_for_triggers(reconciler, venue, account, event)
        if unfit:
            # Not recorded: the command alone would make the account known (to summary, to
            # the next command), and the triggers, which do not judge names, would arm it.
            malformed = [event.reason] if isinstance(event, InputRejected) else []
            return TriggerCommandReport(trigger_id, "", [*unfit, *malformed], [])
        refused: list[str] = []
        emitted: list[Emitted] = []
        decisions: dict[str, Decision] = {}
        if isinstance(event, InputRejected):
            refused.append(event.reason)
        elif isinstance(event, TriggerCommanded):
            key = _trigger_decision(reconciler, event)  # judged before the command folds
            emitted = reconciler.apply(event)
            refused = [e.reason for e in emitted if isinstance(e, TriggerRefused)]
            if key is not None and not refused:
                decisions[event.input_id] = Decision(key, event.operator)
        appended = self._append_detected([event], decisions)
        for _, first in appended.taken:
            # The same command, judged on the same state, went in first from elsewhere:
            # carried out once, by the other; this one is not recorded.
            assert isinstance(event, TriggerCommanded)  # only a command carries a decision
            command = event.command.value
            if not first.input_id:  # the executor's claim: the order was on its way
                sending = f"trigger {trigger_id}'s order was being sent by {first.by}"
                why = f"{sending} at {iso(first.at)}: {command} it after"
                return TriggerCommandReport(trigger_id, "", [why], [])
            done = f"{command} of trigger {trigger_id} already recorded by {first.by}"
            return TriggerCommandReport(trigger_id, "", [f"{done} at {iso(first.at)}"], [])
        if isinstance(event, TriggerCommanded) and appended.inputs:
            where = appended.inputs[0][0]
            if self._inputs_between(venue, account, replayed_from, where):
                # Judged on a state that inputs stored since have moved on (the trigger fired
                # meanwhile, say): the projection judges it on theirs. Said as it will say.
                emitted = _judged_after_all(self.journal, (venue, account), where, event)
                refused = [e.reason for e in emitted if isinstance(e, TriggerRefused)]
        failed = tuple(e.reason for e in emitted if isinstance(e, TriggerFailed))
        types = [e.type for e in emitted]
        return TriggerCommandReport(trigger_id, event.input_id, refused, types, failed)

    def _inputs_between(self, venue: str, account: str, after: int, before: int) -> bool:
        """Whether inputs the account's partition takes were stored between journal
        positions ``after`` and ``before``."""
        from trueup.projections.partitions import partition_of, partitions_of

        number = partition_of(venue, account)
        while after < before - 1:
            events, last = self.journal.inputs(after, upto=before - 1)
            if any(number in partitions_of(e) for _, e in events):
                return True
            if last == after:
                return False
            after = last
        return False

    def triggers(self, *, venue: str | None = None, account: str | None = None) -> list[JSON]:
        """Every trigger's configuration and state (armed, waiting confirm, requested, ...,
        its water mark), from the views (replayed from the journal where they cannot answer)."""
        scope = (venue, account) if venue is not None and account is not None else None
        reader = ViewReader(self.journal)
        if not reader.answer_for(scope):
            from trueup.projections.triggers import trigger_rows

            return trigger_rows(_replay(self.journal, account=scope), venue, account)
        if scope is not None:
            found = reader.account(*scope)
            views = [] if found is None else [found]
        else:
            views = reader.accounts()
        return [
            row
            for view in views
            if venue is None or view.venue == venue
            if account is None or view.account == account
            for row in view.triggers
        ]

    # --- answers ------------------------------------------------------------------------------

    def can_open(
        self,
        venue: str,
        account: str,
        symbol: str,
        *,
        side: PositionSide | None = None,
        timeframe: str | None = None,
        at: int | None = None,
    ) -> CanOpenAnswer:
        """Yes only if trueup can vouch for it (application/can_open.py)."""
        return answer_can_open(
            self.journal,
            venue,
            account,
            symbol,
            side=side,
            timeframe=timeframe,
            at=at,
            clock=self.clock,
        )

    def can_open_facts(
        self, venue: str, account: str, symbol: str, *, at: int | None = None
    ) -> CanOpenFacts:
        """What can-open weighs, as of ``at`` (None: the journal's end)."""
        return can_open_facts(self.journal, venue, account, symbol, at=at)

    def judge_can_open(
        self,
        facts: CanOpenFacts,
        *,
        side: PositionSide | None = None,
        timeframe: str | None = None,
        at: int | None = None,
    ) -> CanOpenAnswer:
        """The verdict on ``facts`` at ``at`` (None: now, by this service's clock)."""
        return judge_can_open(
            self.journal, facts, side=side, timeframe=timeframe, at=at, clock=self.clock
        )

    def positions(
        self, *, venue: str | None = None, account: str | None = None, symbol: str | None = None
    ) -> list[JSON]:
        """Every reconciled key either side has held: local beside exchange, with findings;
        of ``venue``, ``account`` and ``symbol`` where given."""
        reader = ViewReader(self.journal)
        # One account asked: only its views are read (or its partition replayed).
        scope = (venue, account) if venue is not None and account is not None else None
        if reader.answer_for(scope):
            if scope is None:
                symbol_views = reader.symbols()
            elif symbol is not None:
                one = reader.symbol(*scope, symbol)
                symbol_views = [one] if one is not None else []
            else:
                symbol_views = reader.account_symbols(*scope)
            rows = [
                position_row(view, row)
                for view in symbol_views
                for row in view.keys
                if row.held_ever
            ]
        else:
            from trueup.projections.positions import position_rows

            rows = position_rows(_replay(self.journal, account=scope))
        wanted = {"venue": venue, "account": account, "symbol": symbol}
        return [
            row
            for row in rows
            if all(value is None or row[name] == value for name, value in wanted.items())
        ]

    def ccxt_positions(
        self, *, venue: str | None = None, account: str | None = None, symbol: str | None = None
    ) -> list[JSON]:
        """What the exchange holds, reconciled, in ccxt's unified Position structure."""
        rows = self.positions(venue=venue, account=account, symbol=symbol)
        return [found for row in rows if (found := ccxt_position(row)) is not None]

    def summary(
        self, *, venue: str | None = None, account: str | None = None, symbol: str | None = None
    ) -> "Summary":
        """The portfolio (of ``venue``, ``account`` and ``symbol`` where given): positions,
        PnL, balances per account, distribution by venue and symbol, and the risk figures.
        From the persisted views when they are current, else by a replay."""
        from trueup.projections.summary import summarise

        reader = ViewReader(self.journal)
        scope = (venue, account) if venue is not None and account is not None else None
        if reader.answer_for(scope):
            if scope is None:
                accounts, symbol_views = reader.accounts(), reader.symbols()
            else:
                found = reader.account(*scope)
                accounts = [found] if found is not None else []
                one = reader.symbol(*scope, symbol) if symbol is not None else None
                symbol_views = (
                    ([one] if one is not None else [])
                    if symbol is not None
                    else reader.account_symbols(*scope)
                )
        else:
            from trueup.projections.view_building import every_view

            built = list(every_view(_replay(self.journal, account=scope)))
            accounts = [v for v in built if isinstance(v, AccountView)]
            symbol_views = [v for v in built if isinstance(v, SymbolView)]
        return summarise(
            accounts,
            symbol_views,
            venue=venue,
            account=account,
            symbol=symbol,
            rules=self.journal.rules_in_force(),
        )

    def history(
        self,
        *,
        venue: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        since: int = 0,
    ) -> list[ClosedPosition]:
        """The closed position lifecycles (closed at or after ``since``), oldest close first:
        the history view, and what the inputs the projection has not yet taken closed."""
        from trueup.projections.view_building import closed_positions

        reader = ViewReader(self.journal)
        scope = (venue, account) if venue is not None and account is not None else None
        if not reader.formats_current():
            found = closed_positions(self._replayed_from_scratch())
        else:
            found = [decode_closed(body) for body in reader.history(venue, account, symbol, since)]
            if not reader.answer_for(scope):
                # The projection lags: what the inputs after its snapshot closed, added.
                found += closed_positions(_replay(self.journal, account=scope))
        wanted = {"venue": venue, "account": account, "symbol": symbol}
        by_id = {
            _lifecycle_id(c): c
            for c in found
            if c.closed_at >= since
            and all(v is None or getattr(c, name) == v for name, v in wanted.items())
        }
        return sorted(by_id.values(), key=lambda c: (c.closed_at, _lifecycle_id(c)))

    def _replayed_from_scratch(self) -> "Reconciler":
        """Every input folded from the first: the history of views of another format."""
        from trueup.domain.reconciler import Reconciler

        reconciler = Reconciler(self.journal.rules_before_any())
        position = 0
        while True:
            events, last = self.journal.inputs(position, limit=PAGE)
            for _, event in events:
                reconciler.apply(event)
            if last == position:
                return reconciler
            position = last

    def exchange_freshness(
        self, now: int | None = None, following: Following | None = None
    ) -> list[AccountFreshness]:
        """How old each account's exchange view is at ``now``, why it cannot be vouched
        for, if it cannot (the same judgement can-open makes of it), and whether
        ``following`` (by default, the accounts with an input within a day) counts it."""
        now = self.clock() if now is None else now
        following = Following() if following is None else following
        reader = ViewReader(self.journal)
        if reader.answer_for(None):
            accounts = reader.accounts()
        else:
            from trueup.projections.view_building import account_view

            reconciler = _replay(self.journal)
            accounts = [account_view(reconciler, account) for account in sorted(reconciler.books)]
        found = []
        for view in accounts:
            taken = view.facts.complete_snapshot_at
            found.append(
                AccountFreshness(
                    view.venue,
                    view.account,
                    taken,
                    None if taken is None else now - taken,
                    view.facts.freshness_limit_ms,
                    stale_view(view.facts, now),
                    view.last_trigger_fired_at,
                    view.freshness.clock,
                    following.follows((view.venue, view.account), view.freshness.clock, now),
                    tuple(_scope_freshness(view.facts, v, now) for v in view.facts.snapshots),
                )
            )
        return found

    def loop_statuses(self) -> list["LoopStatus"]:
        """The status each long-running loop (executors, notifiers) last wrote."""
        from trueup.application.loop_status import loop_statuses

        return loop_statuses(self.journal)

    def diagnose(
        self, venue: str, account: str, symbol: str, *, last: int = 20, at: int | None = None
    ) -> Diagnosis:
        """Everything that bears on ``symbol`` now: state, findings, cooldown, the verdict,
        and the last ``last`` emitted events and rejected inputs of the account."""
        now = self.clock() if at is None else at
        # Judged at the one instant the cooldown and the findings are read against.
        verdict = self.judge_can_open(self.can_open_facts(venue, account, symbol, at=at), at=now)
        found = views_at(self.journal, venue, account, at)
        if found is not None:
            reader = found[0]
            view = reader.symbol(venue, account, symbol)
            emitted = reader.recent_emitted(venue, account, symbol, last)
            refused = reader.recent_refused(venue, account, last)
        else:
            view, emitted, refused = self._recent_by_replay(venue, account, symbol, last, at)
        until = view.facts.cooldown_until if view else None
        report = {
            "symbol": symbol,
            "at": now,
            "positions": [
                {
                    "position_idx": row.position_idx,
                    "state": row.state,
                    "findings": list(row.findings),
                    # Pending past their grace: told at the account's next input, none yet.
                    "overdue": [
                        text
                        for text, due in zip(row.findings, row.deadlines, strict=True)
                        if due is not None and due <= now
                    ],
                    "pnl": row.pnl,
                    "risk": risk_json(row.risk),
                }
                for row in (view.keys if view else ())
            ],
            # The last cooldown the symbol had, and whether it had run out by the instant asked.
            "cooldown_until": until,
            "cooldown_over": None if until is None else until <= now,
            "can_open": verdict.as_json(),
            "emitted": [orjson.loads(e) for e in emitted],
            "rejected_inputs": [orjson.loads(r) for r in refused],
        }
        return Diagnosis(report)

    def _recent_by_replay(
        self, venue: str, account: str, symbol: str, last: int, at: int | None
    ) -> tuple[SymbolView | None, list[bytes], list[bytes]]:
        """What the views held of the symbol as of ``at`` (None: now), and its recent log up
        to then, read by a replay and a pass over the journal."""
        from trueup.projections.view_building import recent_body, symbol_view

        reconciler = _replay(self.journal, account=(venue, account), as_of=at)
        view = None
        if (venue, account) in reconciler.books:
            view = symbol_view(reconciler, (venue, account), symbol)
        emitted: list[bytes] = []
        refused: list[bytes] = []
        for _, event in self.journal.all_events():
            if (event.venue, event.account) != (venue, account):
                continue
            if at is not None and event.at > at:
                continue  # after the instant asked about
            if isinstance(event, Emitted) and event.symbol in (symbol, None):
                emitted.append(recent_body(event))
            elif isinstance(event, InputRejected):
                refused.append(recent_body(event))
        return view, _last(emitted, last), _last(refused, last)

    def audit(
        self,
        venue: str,
        account: str,
        symbol: str,
        *,
        position_idx: int | None = None,
        as_of: int | None = None,
    ) -> "Audit":
        """How the position came to be what it is (application/position_audit.py)."""
        from trueup.application.position_audit import audit_position

        return audit_position(
            self.journal, venue, account, symbol, position_idx=position_idx, as_of=as_of
        )

    def emitted_about(
        self,
        venue: str,
        account: str,
        symbol: str,
        position_idx: int | None = None,
        as_of: int | None = None,
    ) -> list[tuple[int, Emitted]]:
        """What trueup said about one position, in the order it said it (up to ``as_of``),
        each with its journal position: read by topic, so the inputs in between cost nothing.
        ``position_idx`` None: the symbol's one leg; SeveralLegs if it spoke of more, as the
        audit answers (application/position_audit.py)."""
        about = [
            (position, event)
            for position, event in self.journal.emitted_and_refused(self.journal.last_position())
            if isinstance(event, Emitted)
            and (event.venue, event.account, event.symbol) == (venue, account, symbol)
            and (as_of is None or event.at <= as_of)
        ]
        if position_idx is None:
            legs = {event.position_idx for _, event in about if event.position_idx is not None}
            if len(legs) > 1:
                raise SeveralLegs(symbol, legs)
            position_idx = legs.pop() if legs else 0
        return [said for said in about if said[1].position_idx == position_idx]

    def behind(self, partitions: Sequence[int], upto: int) -> list[int]:
        """Those of ``partitions`` from the first that has not processed every input up to
        position ``upto`` (and stored what they emitted), whichever process runs them; the
        ones before it have. One read per partition, until one is behind."""
        for number, partition in enumerate(partitions):
            if tracked_position(self.journal, [partition]) < upto:
                return list(partitions[number:])
        return []

    def emitted_for(
        self, causes: set[str], after: int, keys: Set[str] = frozenset()
    ) -> dict[str, int]:
        """What the detectors emitted, by type, for the inputs ``causes`` (by id) and those
        of ``keys`` (Journal.input_keys), stored after position ``after``, whichever
        process detected it."""
        count = EmittedCount(self.journal, causes, after, keys)
        count.read()
        return count.by_type()

    def events_after(
        self,
        after: int = 0,
        *,
        type_: str | None = None,
        emitted_only: bool = False,
        venue: str | None = None,
        account: str | None = None,
        limit: int = PAGE,
    ) -> EventPage:
        """Up to ``limit`` stored events after journal position ``after``, inputs and emitted
        alike unless ``emitted_only``, of ``type_``, ``venue`` and ``account`` if given; ask
        again from ``next_after``."""
        wanted = EventFilter(type_, venue, account, emitted_only)
        found: list[tuple[int, InputEvent | Emitted]] = []
        position = after
        for position, event in self.journal.all_events(after):
            if not wanted.matches(event):
                continue
            found.append((position, event))
            if len(found) >= limit:
                break
        return EventPage(found, position)

    # --- notifications ------------------------------------------------------------------------

    def deliveries(
        self, *, event_id: str | None = None, dead_letters: bool = False
    ) -> list[DeliveryRecord]:
        """Did anyone get told? Per emitted event and target, what the notifiers' recorded
        tries came to, in the order of their first; of ``event_id`` only if given, and only
        dead letters if ``dead_letters``."""
        found: dict[tuple[str, str, str], DeliveryRecord] = {}
        for _, report in self.journal.inputs_of_type(NotificationAttempted.type):
            if not isinstance(report, NotificationAttempted):
                continue
            if event_id is not None and report.event_id != event_id:
                continue
            key = (report.event_id, report.notifier, report.target)
            first = found.get(key)
            failure = report.outcome is not NotificationOutcome.DELIVERED
            found[key] = DeliveryRecord(
                event_id=report.event_id,
                event_type=report.event_type,
                venue=report.venue,
                account=report.account,
                notifier=report.notifier,
                target=report.target,
                outcome=report.outcome,
                attempts=max(report.attempt, first.attempts if first else 0),
                first_at=first.first_at if first else report.at,
                last_at=report.at,
                reason=report.reason if failure or first is None else first.reason,
                status=report.status,
            )
        records = list(found.values())
        if dead_letters:
            records = [r for r in records if r.outcome is NotificationOutcome.DEAD_LETTERED]
        return records

    def acknowledge_dead_letters(
        self, notifier: str, operator: str, reason: str = ""
    ) -> DeadLettersAcknowledged | None:
        """Record that ``operator`` has seen notifier ``notifier``'s dead letters until now:
        /health counts only later ones. None: no notifier of that name has run."""
        from trueup.application.loop_status import (
            Acknowledgement,
            acknowledge_dead_letters,
            loop_status,
        )

        status = loop_status(self.journal, f"notifier.{notifier}")
        if status is None:
            return None
        seen = Acknowledgement(self.clock(), operator, reason)
        newly = acknowledge_dead_letters(self.journal, status, seen)
        return DeadLettersAcknowledged(notifier, seen.at, operator, reason, newly)

    def test_notifications(self, targets: list["Target"]) -> list[NotificationTest]:
        """A test notification to each of ``targets``, and what each came to."""
        from trueup.application.notifier import send_tests  # it follows the journal: a cycle

        return send_tests(targets, self.clock)


@dataclass(frozen=True)
class EventFilter:
    """Which stored events a reader asked for: None is any."""

    type_: str | None = None
    venue: str | None = None
    account: str | None = None
    emitted_only: bool = False

    def matches(self, event: InputEvent | Emitted) -> bool:
        return (
            (self.type_ is None or event.type == self.type_)
            and (self.venue is None or event.venue == self.venue)
            and (self.account is None or event.account == self.account)
            and (not self.emitted_only or isinstance(event, Emitted))
        )


def _clean_line(record: StaleRecord, exit_reason: str, operator: str, at: int) -> JSON:
    action = {
        "action": "clean_position",
        "position_id": record.position_id,
        "exit_reason": exit_reason,
        "operator": operator,
    }
    return {
        "at": at,
        "venue": record.venue,
        "account": record.account,
        "channel": "operator",
        "data": action,
    }


def _clean_decision(record: StaleRecord) -> UUID:
    """Closing one opening of a local position: the same decision whoever makes it, by
    --force or --check-exchange, whenever."""
    return decision_key(
        record.venue, record.account, "clean_position", record.position_id, str(record.opened_at)
    )


def _trigger_decision(reconciler: "Reconciler", event: TriggerCommanded) -> UUID | None:
    """The decision a trigger command carries out, judged on the trigger as it stands before
    it: adding or removing the trigger (each once ever), confirming this firing, enabling
    or disabling this arming. None for a change: two are two decisions, the last in force."""
    command, trigger_id = event.command, event.trigger_id
    if event.withdraws:
        # Claimed in the executor's stead: whichever comes first, the other does not act.
        return sending_key(event.venue, event.account, event.withdraws)
    what: tuple[str, ...] = ()
    if command in (TriggerCommand.ADD, TriggerCommand.REMOVE):
        what = (command.value,)
    else:
        trigger = _trigger_of(reconciler, event.venue, event.account, trigger_id)
        if trigger is None:
            return None  # refused by the fold
        if command is TriggerCommand.CONFIRM and trigger.firing is not None:
            what = (command.value, trigger.firing.decision.decision_id)
        elif command in (TriggerCommand.ENABLE, TriggerCommand.DISABLE):
            what = (command.value, str(trigger.arming))
    if not what:
        return None
    return decision_key(event.venue, event.account, "trigger", trigger_id, *what)


def _lifecycle_id(closed: ClosedPosition) -> tuple[str, str, str, str, int, int]:
    return (
        closed.venue,
        closed.account,
        closed.category,
        closed.symbol,
        closed.position_idx,
        closed.number,
    )


def _last(items: list[Any], n: int) -> list[Any]:
    """The last ``n`` items: none for 0, where ``items[-0:]`` would give them all."""
    return items[max(len(items) - n, 0) :]


def _unfit_for_triggers(
    reconciler: "Reconciler", venue: str, account: str, event: InputEvent
) -> list[str]:
    """Why a trigger command could never be carried out, judged on what the journal knows
    before it is recorded: an account whose exchange and bot it has never heard from, or a
    symbol spelt as the venue spells none (the rule can-open applies)."""
    from trueup.adapters import venues
    from trueup.domain.rules.can_open_facts import symbol_facts
    from trueup.projections.view_building import symbols

    found = venues.find(venue)
    if found is None:
        return []  # the line itself is refused for it, naming the venues trueup reads
    book = reconciler.books.get((venue, account))
    if book is None or not book.heard_from:
        return [never_seen(f"{venue}/{account}")]
    spec = getattr(event, "spec", None)
    if spec is None:
        return []
    facts = symbol_facts(book, reconciler.detectors(venue, account), spec.symbol)
    misspelt = misspelt_symbol(
        found, spec.symbol, facts, cased_otherwise(spec.symbol, symbols(book))
    )
    return [] if misspelt is None else [misspelt]


def _requested_order(reconciler: "Reconciler", venue: str, account: str, data: JSON) -> str | None:
    """The decision id of the order a disable or remove would withdraw: its trigger's firing's,
    requested and not known to be on the venue. None for any other command."""
    if data.get("command") not in (TriggerCommand.DISABLE.value, TriggerCommand.REMOVE.value):
        return None
    trigger = _trigger_of(reconciler, venue, account, str(data.get("trigger_id", "")))
    firing = None if trigger is None else trigger.firing
    if firing is None or not firing.withdrawable:
        return None
    return firing.decision.decision_id


def _trigger_of(
    reconciler: "Reconciler", venue: str, account: str, trigger_id: str
) -> Trigger | None:
    """The account's trigger of ``trigger_id``, as the replay left it, if it has one (a
    command names an account of its own: no book is made for it here)."""
    detectors = reconciler.detectors_by_account.get((venue, account))
    return None if detectors is None else detectors.triggers.triggers.get(trigger_id)


def _replay(journal: Journal, **scope: Any) -> "Reconciler":
    """projections/reconciliation.py's replay, loaded only when the views cannot answer."""
    from trueup.projections.reconciliation import replay

    return replay(journal, **scope)


def _judged_after_all(
    journal: Journal, account: tuple[str, str], where: int, event: InputEvent
) -> list[Emitted]:
    """What the detectors emit for ``event``, stored at ``where``, after every input stored
    before it: exactly what the projection emits for it."""
    from trueup.projections.reconciliation import replay_before

    return replay_before(journal, account, where).apply(event)


def _decoded(line: bytes) -> InputEvent:
    """A capture line as the input it is (the venues' decoders load with it)."""
    from trueup.adapters.capture import decode_line

    return decode_line(line)


def _scope_freshness(facts: AccountFacts, vouched: Vouched, now: int) -> ScopeFreshness:
    """One scope's snapshot as /health shows it, judged as can-open judges a symbol that
    scope alone covers."""
    taken = vouched.at
    fresh = not stale_view(replace(facts, snapshots=(vouched,)), now)
    return ScopeFreshness(vouched.coverage.described(), taken, now - taken, fresh)
