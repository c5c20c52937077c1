"""What a detector is to the reconciler: the phases it is called in, and what it forgets.

Each detector owns what it remembers of one account and answers the queries about it; the
reconciler calls each phase on the account's detectors in their order (rules/account.py).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from mypy_extensions import mypyc_attr

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted
from trueup.domain.events import InputEvent
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.retention import Forgotten
from trueup.domain.rules.config import RuleConfig


@dataclass(frozen=True, slots=True)
class LetGo:
    """What a book let go since the detectors last asked: orders, intents (by
    client_order_id) and local positions (by position_id)."""

    orders: list[OrderKey]
    intents: list[str]
    locals: list[str]

    @classmethod
    def take(cls, forgotten: Forgotten) -> "LetGo | None":
        """Everything ``forgotten`` lists, which it hands over once; None when it lists nothing."""
        if not forgotten:
            return None
        return cls(forgotten.orders.take(), forgotten.intents.take(), forgotten.locals.take())


EventTypes = tuple[type[InputEvent], ...]


# A rule of a test, or of a user's own, may be a Python subclass of the compiled Detector.
@mypyc_attr(allow_interpreted_subclasses=True)
class Detector:
    """One rule and its memory. Every phase does nothing unless the rule has a use for it."""

    __slots__ = ()

    # Methods, not class attributes: mypyc compiles a dataclass's ClassVar as a field.
    def noted(self) -> EventTypes | None:
        """The types of input (with their subclasses) ``note`` may act on, None for every
        type: the reconciler calls ``note`` with no other."""
        return None

    def judged(self) -> EventTypes | None:
        """The types of input ``on_input`` may act on, as ``noted``."""
        return None

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        """Take note of what an input shows, before any detector judges it."""

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        """What an input of the account, just folded into ``book``, makes the rule emit."""
        return []

    def on_key(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        """What one position key, changed or waited on, makes the rule emit."""
        return []

    def waiting(self) -> Iterable[PositionKey]:
        """The keys the rule waits on time for: every detector judges them again each time."""
        return ()

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """What the clock reading ``cause.at`` makes the rule emit."""
        return []

    def forget(self, let_go: LetGo) -> None:
        """Forget what the rule remembers of what the book has let go."""


class Phases(NamedTuple):
    """An account's detectors that take part in each phase, in its order: one that leaves a
    phase as Detector does (nothing) is not called for it, on every input and every key."""

    noting: tuple[Detector, ...]
    judging: tuple[Detector, ...]
    keyed: tuple[Detector, ...]
    waiting: tuple[Detector, ...]
    timed: tuple[Detector, ...]
    forgetting: tuple[Detector, ...]
    # Those of noting and judging that an input of each type seen so far goes to.
    noting_by_type: dict[type[InputEvent], tuple[Detector, ...]]
    judging_by_type: dict[type[InputEvent], tuple[Detector, ...]]

    @classmethod
    def of(cls, in_order: tuple[Detector, ...], timed: tuple[Detector, ...]) -> "Phases":
        return cls(
            _taking("note", in_order),
            _taking("on_input", in_order),
            _taking("on_key", in_order),
            _taking("waiting", in_order),
            timed,
            _taking("forget", in_order),
            {},
            {},
        )

    def take(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        """An input just folded into ``book``: noted by every detector that notes its type,
        all before any judges it, then judged; what they emit."""
        # Only the detectors that act on inputs of its type: the others would return at once.
        # Looked up here, the methods asked only for a type not seen yet: this runs per input.
        kind = type(event)
        noting = self.noting_by_type.get(kind) or self.noting_for(kind)
        for detector in noting:
            detector.note(book, event, changed)
        emitted: list[Emitted] = []
        judging = self.judging_by_type.get(kind) or self.judging_for(kind)
        for detector in judging:
            emitted += detector.on_input(book, event, changed, cause, config)
        return emitted

    def forget(self, book: AccountBook) -> None:
        """The detectors forget what ``book`` has let go since they last asked."""
        let_go = LetGo.take(book.forgotten)
        if let_go is not None:
            for detector in self.forgetting:
                detector.forget(let_go)

    def noting_for(self, kind: type[InputEvent]) -> tuple[Detector, ...]:
        """Those that note an input of type ``kind``, in their order."""
        found = self.noting_by_type.get(kind)
        if found is None:
            found = self.noting_by_type[kind] = _acting_on(kind, self.noting, lambda d: d.noted())
        return found

    def judging_for(self, kind: type[InputEvent]) -> tuple[Detector, ...]:
        """Those that judge an input of type ``kind``, in their order."""
        found = self.judging_by_type.get(kind)
        if found is None:
            found = self.judging_by_type[kind] = _acting_on(
                kind, self.judging, lambda d: d.judged()
            )
        return found


def _acting_on(
    kind: type[InputEvent],
    detectors: tuple[Detector, ...],
    declared: Callable[[Detector], EventTypes | None],
) -> tuple[Detector, ...]:
    """Of ``detectors``, those whose ``declared`` types (noted or judged) take ``kind``."""
    found = []
    for detector in detectors:
        types = declared(detector)
        if types is None or issubclass(kind, types):
            found.append(detector)
    return tuple(found)


def _taking(phase: str, detectors: tuple[Detector, ...]) -> tuple[Detector, ...]:
    base = getattr(Detector, phase)
    return tuple(d for d in detectors if getattr(type(d), phase) is not base)
