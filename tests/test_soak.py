"""The soak, briefly (tests/soak): processes on one journal, killed and paused at random
moments, leave what one process would. ``make soak ROUNDS=N`` runs it long."""

import random
from pathlib import Path

import pytest

from tests.soak import rounds

SEED = 20261205
SIZES = (500, 1_500)


@pytest.mark.parametrize("number", [0, 1])
def test_a_round_of_processes_killed_and_paused_at_random_leaves_what_one_process_would(
    store_url: str, tmp_path: Path, number: int
) -> None:
    plan = rounds.draw(random.Random(f"{SEED}:{number}"), SIZES)
    outcome = rounds.run(plan, store_url, tmp_path)
    assert not outcome.problems, f"{plan.described()}\n" + "\n".join(outcome.problems)
    assert outcome.emitted > 0
