"""The positions read model: each reconciled key, local beside exchange, with its findings."""

from typing import Any

from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.findings import open_findings
from trueup.projections.audit import position_state


def position_rows(reconciler: Reconciler) -> list[dict[str, Any]]:
    """One row per key either side has ever held, in account and key order."""
    rows = []
    for (venue, account), book in sorted(reconciler.books.items()):
        detectors = reconciler.detectors_by_account[(venue, account)]
        for key in sorted(book.positions):
            position = book.positions[key]
            if position.exchange is None and not position.local:
                continue
            rows.append(
                {
                    "venue": venue,
                    "account": account,
                    "category": key.category,
                    "symbol": key.symbol,
                    "position_idx": key.position_idx,
                    "local_qty": str(position.local_qty),
                    "exchange_qty": str(position.exchange_qty),
                    "findings": open_findings(book, detectors, reconciler.config, key),
                    "state": position_state(book, position),
                }
            )
    return rows
