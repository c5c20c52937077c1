"""One trigger's state: its spec in force, its standing, its arming and water mark, and the
lifecycle of its firing, if it has fired since it was armed."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trueup.domain.keys import PositionKey
from trueup.domain.triggers.lifecycle import TERMINAL, Stage
from trueup.domain.triggers.spec import TriggerSpec
from trueup.domain.vocabulary import OrderSide


class Standing(StrEnum):
    ARMED = "armed"
    DISABLED = "disabled"
    EXPIRED = "expired"  # final
    REMOVED = "removed"  # final


FINAL = frozenset({Standing.EXPIRED, Standing.REMOVED})


@dataclass(frozen=True, slots=True)
class Decision:
    """The order a firing decided, kept to request it (at once or on confirm)."""

    decision_id: str  # the TRIGGER_FIRED event's id
    key: PositionKey
    order_side: OrderSide
    order_position_idx: int
    quantity: Decimal
    reduce_only: bool


@dataclass(slots=True)
class Firing:
    decision: Decision
    stage: Stage
    fired_at: int
    price: Decimal | None
    # The order the venue took for it, once the executor's placement report says so.
    client_order_id: str = ""
    venue_order_id: str = ""
    # What an executed order filled, and the venue's time of it: a reduce counts against
    # its position until a position report of that time or later shows it.
    filled_qty: Decimal | None = None
    executed_at: int = 0

    @property
    def withdrawable(self) -> bool:
        """Whether a disable or remove may still withdraw its order: requested, and the
        venue not known to hold it (the executor's claim decides the race, keys.sending_key)."""
        return self.stage is Stage.REQUESTED and not self.client_order_id


@dataclass(slots=True)
class Trigger:
    trigger_id: str
    spec: TriggerSpec
    standing: Standing
    created_at: int
    operator: str
    arming: int = 1
    water: Decimal | None = None  # high-water (long) or low-water (short) since armed
    firing: Firing | None = None

    @property
    def state(self) -> str:
        """What an operator is shown: a firing still under way, else the last firing's stage
        while the trigger stays armed, else the standing (a disabled trigger reads disabled,
        whatever its last firing came to)."""
        firing = self.firing
        if firing is not None and firing.stage not in TERMINAL:
            return firing.stage.value
        if self.standing is not Standing.ARMED or firing is None:
            return self.standing.value
        return firing.stage.value

    def arm(self) -> None:
        """A new arming: it may fire once more, its water mark folded afresh."""
        self.standing = Standing.ARMED
        self.arming += 1
        self.water = None
        self.firing = None
