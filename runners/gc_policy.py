"""How the garbage collector runs while trueup replays a journal.

A replay builds hundreds of thousands of long-lived objects and no reference cycles; the
default policy (a collection every 700 allocations) walks them again and again for
nothing, which doubles the time of a long audit.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect rarely, and never walk what existed before (it is frozen) until done."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
