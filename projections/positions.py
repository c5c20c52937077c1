"""The positions read model: each reconciled key, local beside exchange, with its findings."""

from typing import Any

from trueup.domain.reconciler import Reconciler
from trueup.projections import view_building, views


def position_rows(reconciler: Reconciler) -> list[dict[str, Any]]:
    """One row per key either side has ever held, in account, symbol and key order: the
    rows the persisted views give, built from the reconciler itself."""
    return [
        views.position_row(view, row)
        for view in view_building.every_view(reconciler)
        if isinstance(view, views.SymbolView)
        for row in view.keys
        if row.held_ever
    ]
