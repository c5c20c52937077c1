"""The reconciliation projection as many processes may offer to run it: each partition is
run by the one process that holds its lease, and another stands by to take it over when
that process dies. The rules it applies are those recorded in the journal (RulesSet
inputs), whoever runs it."""

import logging
from collections.abc import Callable, Iterable

from trueup.adapters.store.journal import PAGE, Appended, Journal
from trueup.adapters.store.lease import Lease
from trueup.domain.emitted import Emitted
from trueup.projections.partitions import ALL, tracker
from trueup.projections.reconciliation import LeaseLost, ReconciliationProjection, Recorded

log = logging.getLogger("trueup.projection")


class LeasedProjection:
    """``catch_up`` runs the partitions whose leases this process holds, else does nothing."""

    def __init__(
        self,
        journal: Journal,
        partitions: Iterable[int] = ALL,
        on_recorded: Recorded | None = None,
        offering: Callable[[], bool] = lambda: True,
    ) -> None:
        self.journal = journal
        self.on_recorded = on_recorded
        # Asked before free partitions are taken: False while they are left to another.
        self.offering = offering
        numbers = list(partitions)
        by_name = journal.leases([tracker(n) for n in numbers])
        self.leases: dict[int, Lease] = {n: by_name[tracker(n)] for n in numbers}
        self.projection: ReconciliationProjection | None = None
        self.ever_held = False

    @property
    def held(self) -> tuple[int, ...]:
        """The partitions this process runs."""
        return () if self.projection is None else tuple(sorted(self.projection.partitions))

    @property
    def holding(self) -> bool:
        return bool(self.held)

    @property
    def position(self) -> int:
        return 0 if self.projection is None else self.projection.position

    def catch_up(
        self, appended: Appended | None = None, *, page: int = PAGE, take_free: bool = True
    ) -> list[Emitted]:
        """What the partitions held emitted since the last call; nothing while others hold
        them all. ``appended``: what this process just appended, taken as it is.
        ``take_free``: first take every partition nobody holds (else see ``take``)."""
        if take_free and len(self.held) < len(self.leases) and self.offering():
            self.take(self.leases)
        if self.projection is None or not self.projection.partitions:
            return []
        try:
            return self.projection.catch_up(appended, page=page)
        except LeaseLost as lost:
            log.warning("%s: standing by for those partitions", lost)
            gone = [n for n in lost.partitions if not self.leases[n].held()] or self.held
            for n in gone:
                self.leases[n].release()
            # Its state has gone past what it could record: the partitions still held are
            # rebuilt from what was recorded, at the next call.
            self.projection = None
            return []

    def take(self, numbers: Iterable[int]) -> list[int]:
        """Take those of these partitions nobody holds (a file lock tried, or one round trip
        to PostgreSQL, each); which it took."""
        held = set(self.held)
        taken = [n for n in numbers if n not in held and self.leases[n].acquire()]
        if not taken:
            return []
        # Built only now: what the last holder recorded is where this one starts.
        if self.projection is None:
            self.projection = ReconciliationProjection(
                self.journal, None, taken, self.leases, self.on_recorded
            )
        else:
            self.projection.add(taken, self.leases)
        self.ever_held = True
        log.info(
            "running partitions %s of the projection, following the journal from position %d",
            _shown(taken),
            self.position,
        )
        return taken

    def let_go(self, numbers: Iterable[int]) -> None:
        """Stop running these partitions and let their leases go, their state snapshotted
        first: another process is to run them."""
        numbers = [n for n in numbers if n in self.held]
        if self.projection is not None and numbers:
            self.projection.remove(numbers)
            log.info("let partitions %s go", _shown(numbers))
        for n in numbers:
            self.leases[n].release()

    def release(self) -> None:
        """Let every lease go once what is processed is recorded, then snapshot what whoever
        takes over would find dear to replay: they need not wait for it."""
        projection, self.projection = self.projection, None
        try:
            if projection is not None:
                projection.stop(let_go=self._let_leases_go)
        finally:
            self._let_leases_go()  # also when recording failed

    def abandon(self) -> None:
        """Let every lease go with nothing recorded or snapshotted, after an exception (an
        interrupt, say) that may have left the state part-applied: it is dropped, as a kill -9
        drops it, and whoever takes over replays from what was recorded."""
        self.projection = None
        self._let_leases_go()

    def __enter__(self) -> "LeasedProjection":
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """Released after the block ran well; abandoned after an exception."""
        if kind is None:
            self.release()
        else:
            self.abandon()

    def _let_leases_go(self) -> None:
        for lease in self.leases.values():
            lease.release()


def _shown(numbers: list[int]) -> str:
    return "all" if sorted(numbers) == list(ALL) else ", ".join(map(str, sorted(numbers)))
