"""A client of `trueup serve` for bots, sync (``Client``) and async (``AsyncClient``).

with Client("http://127.0.0.1:8780") as trueup:
    if trueup.can_open("bybit", "main", "BTCUSDT", side="long").allowed:
        ...
    for event in trueup.stream(type="POSITION_CLOSED"):
        ...

Over NATS instead (`trueup worker --nats`), ``trueup.client.nats.can_open_over_nats``.
"""

from trueup.client.asynchronous import AsyncClient
from trueup.client.documents import (
    ApiError,
    CanOpen,
    Event,
    EventPage,
    InputLine,
    InputsReport,
    TrueupError,
    Unreachable,
)
from trueup.client.sync import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "CanOpen",
    "Client",
    "Event",
    "EventPage",
    "InputLine",
    "InputsReport",
    "TrueupError",
    "Unreachable",
]
