"""The exactly-once burst every venue's execution client is held to: 100 placements of
``ids`` decisions at once, from two other processes and eight threads, each asked under its
decision's client order id. Each test module gives its venue's ways of placing."""

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from trueup.domain.vocabulary import PlacementOutcome

PLACEMENTS = 100
# (base url, decisions) -> each decision's outcome, placed by a client of the process's own
PlaceMany = Callable[[str, list[str]], list[str]]


def placed_in_a_burst(
    place_many: PlaceMany, place_one: Callable[[str], str], base_url: str, ids: int
) -> list[str]:
    """Every placement's outcome; ``place_many`` runs in spawned processes, so it is a
    module-level function of the test module."""
    decisions = [f"burst-{i % ids}" for i in range(PLACEMENTS)]
    chunks = [decisions[i::4] for i in range(4)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        in_processes = pool.starmap_async(place_many, [(base_url, c) for c in chunks[:2]])
        with ThreadPoolExecutor(8) as threads:
            in_threads = list(threads.map(place_one, chunks[2] + chunks[3]))
        return [o for chunk in in_processes.get(60) for o in chunk] + in_threads


def assert_each_id_accepted_once(outcomes: list[str], ids: int) -> None:
    assert outcomes.count(str(PlacementOutcome.ACCEPTED)) == ids
    assert outcomes.count(str(PlacementOutcome.ALREADY_PLACED)) == PLACEMENTS - ids
