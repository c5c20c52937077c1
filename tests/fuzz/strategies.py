"""Hypothesis strategies over the seed corpus, composing the same mutators as the random loop.

Hypothesis picks the seed window, which mutators run and the hostile values they put in; the
mutators' own choices come from a Random it controls, so every example replays exactly.
"""

from hypothesis import strategies as st

from tests.fuzz import corpus
from tests.fuzz.hostile import ANY_VALUES
from tests.fuzz.line_mutations import LINE_MUTATORS
from tests.fuzz.mutations import RECORD_MUTATORS
from tests.fuzz.session_mutations import SESSION_MUTATORS
from tests.fuzz.tree import Tree, dump, paths, raw, replace

MAX_WINDOW = 30


def hostile_values() -> st.SearchStrategy[Tree]:
    """The catalogued hostile values, and JSON that hypothesis makes up, numbers as text too."""
    numbers = st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.integers().map(lambda n: raw(str(n))),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{1,40})?", fullmatch=True),
    )
    scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40))
    made_up = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=8,
    )
    return st.one_of(st.sampled_from(ANY_VALUES), made_up)


@st.composite
def mutated_line(draw: st.DrawFn, record: Tree) -> bytes:
    """A seed record through drawn record mutators, a drawn hostile value and a line mutator."""
    rng = draw(st.randoms(use_true_random=False))
    tree = record
    for mutator in draw(st.lists(st.sampled_from(RECORD_MUTATORS), max_size=3)):
        tree = mutator(rng, tree)
    if draw(st.booleans()):
        path = draw(st.sampled_from(paths(tree)))
        tree = replace(tree, path, draw(hostile_values()))
    line = dump(tree)
    line_mutator = draw(st.none() | st.sampled_from(LINE_MUTATORS))
    return line if line_mutator is None else line_mutator(rng, line)


@st.composite
def sessions(draw: st.DrawFn) -> list[bytes]:
    """A window of a seed session, some lines mutated, then session mutators on top."""
    session = draw(st.sampled_from(corpus.sessions()))
    start = draw(st.integers(0, len(session) - 1))
    records = session[start : start + draw(st.integers(1, MAX_WINDOW))]
    lines = [draw(mutated_line(r)) if draw(st.booleans()) else dump(r) for r in records]
    rng = draw(st.randoms(use_true_random=False))
    for mutator in draw(st.lists(st.sampled_from(SESSION_MUTATORS), max_size=3)):
        lines = mutator(rng, lines)
    return lines
