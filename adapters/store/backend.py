"""An open store: eventsourcing's infrastructure factory and the journal's recorder on it."""

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, ProcessRecorder
from eventsourcing.utils import Environment

from trueup.adapters.store.lease import Lease
from trueup.adapters.store.location import TABLE_PREFIX
from trueup.adapters.store.snapshot_table import SnapshotTable
from trueup.adapters.store.view_table import ViewTable

Factory = InfrastructureFactory[Any]


class Backend:
    """The recorder a journal reads and writes through, and the factory that owns its
    connections. ``reconnect`` replaces both after an outage (when the store needs it)."""

    # The most input bytes one append's transaction may hold (None: a batch is one).
    transaction_bytes: int | None = None
    # Whether its recorder stores an originator id as its UUID's hex text, and takes that
    # text as it is: a row to insert may then carry it, made without a UUID on the way.
    ids_as_text = False

    def __init__(self, factory: Factory, recorder: ProcessRecorder) -> None:
        self.factory = factory
        self.recorder = recorder
        self.generation = 0

    def reconnect(self, generation: int) -> None:
        """Nothing to do: a SQLite file needs no reconnecting."""

    def leases(self, names: list[str]) -> dict[str, Lease]:
        """Leases of these names on this store, for one holder (each is held on its own)."""
        raise NotImplementedError

    def end_reader(self) -> Callable[[], int | None] | None:
        """A reader of the journal's end that costs no more than a local read, for a thread
        that must not wait on a server (an event loop); None where every read is a round
        trip. Its answer None: it could not read the end just now (ask the journal)."""
        return None

    def snapshot_table(self) -> SnapshotTable:
        """Where this store keeps the projections' snapshots."""
        raise NotImplementedError

    def views(self) -> ViewTable:
        """The persisted views on this store."""
        raise NotImplementedError

    def close(self) -> None:
        self.factory.close()


def build(
    settings: dict[str, str], configure: Callable[[Factory], None] | None = None
) -> tuple[Factory, ProcessRecorder]:
    """A factory and a process recorder, touching no table: the caller creates them.
    ``configure`` is given the factory before the recorder makes its first connection."""
    env = Environment(name=TABLE_PREFIX, env={**settings, "CREATE_TABLE": "no"})
    factory: Factory = InfrastructureFactory.construct(env)
    try:
        if configure is not None:
            configure(factory)
        return factory, factory.process_recorder()
    except BaseException:
        factory.close()
        raise
