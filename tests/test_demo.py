"""The demo `make run` plays: every detector fires end to end from simulated exchange traffic,
through the real venue clients, into a SQLite journal."""

import io
from pathlib import Path

from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import EMITTED_TYPES, Emitted
from trueup_simulators.demo import run_demo

SCENARIO = Path(__file__).parent.parent / "samples" / "scenarios" / "demo.jsonl"


def test_the_demo_makes_every_detector_fire(tmp_path: Path) -> None:
    out = io.StringIO()
    with Journal.open(str(tmp_path / "demo.db")) as journal:
        run_demo(journal, SCENARIO, out)
        fired = {e.type for _, e in journal.all_events() if isinstance(e, Emitted)}
    expected = {t.type for t in EMITTED_TYPES} - {"POSITION_CLEANED"}  # an operator's act
    assert expected <= fired, f"never fired: {sorted(expected - fired)}"
    assert "STALE p-ada (NEVER_ON_EXCHANGE)" in out.getvalue()
