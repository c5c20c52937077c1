"""Snapshots of the reconciler's state, so a restart or a query starts from the last one
and replays only the inputs after it, not the whole journal.

A snapshot is valid only for the very code that wrote it (snapshot_format.py), so a
snapshot from another version of trueup is ignored and the state rebuilt from the inputs,
never misread. It is read back with an unpickler that builds nothing but trueup's domain
types, containers and decimals: a row of the journal can never make trueup run code.
"""

import copyreg
import gc
import io
import keyword
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import Field, dataclass, fields, is_dataclass
from decimal import Decimal
from operator import attrgetter, getitem, methodcaller
from types import MethodType
from typing import Any
from uuid import UUID, uuid5

import lz4.frame
from msgspec import Struct

from trueup.adapters.store.snapshot_format import SNAPSHOT_FORMAT
from trueup.domain.keys import TRUEUP_NAMESPACE
from trueup.domain.reconciler import Reconciler

SNAPSHOT_TOPIC = "trueup.snapshot"
_HEADER = b"trueup-snapshot:"

# What a snapshot may be made of, beyond trueup.domain's own classes.
_ALLOWED = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "int"),
    ("collections", "deque"),
    ("collections", "OrderedDict"),
    ("decimal", "Decimal"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("_operator", "getitem"),  # of a tuple it built: an equal key refers to the first (_key)
    (__name__, "bound_method"),
    (__name__, "restore"),
}


def snapshot_stream(tracker: str) -> UUID:
    """The journal stream holding one projection's snapshots, newest last."""
    return uuid5(TRUEUP_NAMESPACE, f"snapshot:{tracker}")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The reconciler as it was once every input up to journal ``position`` was applied."""

    position: int
    reconciler: Reconciler
    size: int = 0  # the bytes it took stored (0: not stored)


def dump(snapshot: Snapshot) -> bytes:
    buffer = io.BytesIO()
    with _collector_paused():
        _DomainPickler(buffer).dump((snapshot.position, snapshot.reconciler))
    with buffer.getbuffer() as pickled:  # compressed where it lies, not copied out first
        return framed(pickled)


def framed(pickled: bytes | memoryview) -> bytes:
    """A pickled state as a snapshot holds it: this trueup's header, then the state
    compressed. LZ4, not zlib: on the bench's 1M journal zlib was 41 % of a dump and 20 % of
    a load, and LZ4 is 5x faster each way for a third more bytes (12 MB beside 8.7)."""
    body: bytes = lz4.frame.compress(pickled)
    return _HEADER + SNAPSHOT_FORMAT.encode() + b"\n" + body


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Build or walk a large state without the cycle collector rescanning it as it grows:
    measured, it is three quarters of loading a large snapshot (4.7 s -> 1.2 s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _built_long_lived() -> Iterator[None]:
    """Build a large state with the cycle collector paused, then hand it to the collector's
    oldest generation: otherwise a young collection walks all of it at the next allocation,
    and again on its way to the oldest (measured after loading the bench's 10,000
    positions: 60-190 ms of collections, none)."""
    with _collector_paused():
        try:
            yield
        finally:
            # Both list splices, whatever the size: every tracked object (what another part
            # froze too, runners/gc_policy.py: thawed into the oldest generation, walked only
            # by a full collection, as rare as it) moved to the oldest generation.
            gc.freeze()
            gc.unfreeze()


def bound_method(owner: object, name: str) -> Any:
    """A domain object's method, as a book's table of handlers holds them."""
    if not type(owner).__module__.startswith("trueup.domain."):
        raise pickle.UnpicklingError(f"no method of {type(owner).__name__} in a snapshot")
    return getattr(owner, name)


def restore(cls: type, values: tuple[Any, ...]) -> Any:
    """A domain dataclass with slots, or a struct, whose constructor does not take every
    field positionally."""
    builder = _BUILDERS.get(cls)
    if builder is None:
        builder = _BUILDERS[cls] = _builder(cls)
    return builder(values)


# Per class ``restore`` has met: how it builds an object of that class from its values.
_BUILDERS: dict[type, Callable[[tuple[Any, ...]], Any]] = {}


def _builder(cls: type) -> Callable[[tuple[Any, ...]], Any]:
    """How ``restore`` builds a ``cls``, its checks made once per class, not per object
    (measured: 8% fewer instructions loading a snapshot of 10,000 positions)."""
    if not cls.__module__.startswith("trueup.domain."):
        raise pickle.UnpicklingError(f"a snapshot holds no {cls.__name__}")
    slotted = _slotted(cls)
    if slotted is None:
        raise pickle.UnpicklingError(f"{cls.__name__} is not a dataclass with slots")
    names = slotted[1]
    if issubclass(cls, Struct):  # frozen: set by its constructor, which does nothing more
        return _struct_builder(cls, names)
    # Each field's slot set through its descriptor, as object.__setattr__ would, without
    # looking the name up on every object.
    setters = [_slot(cls, name).__set__ for name in names]

    new = cls.__new__  # a compiled class's own: object's would refuse to make one

    def build(values: tuple[Any, ...]) -> Any:
        obj = new(cls)
        for set_slot, value in zip(setters, values, strict=True):
            set_slot(obj, value)
        return obj

    return build


def _struct_builder(cls: type, names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], Any]:
    """A keyword-only struct's builder, written for its fields: the values unpacked and passed
    by name, not zipped into a dict for each object (an intent placed, by the ten thousand)."""
    if any(not name.isidentifier() or keyword.iskeyword(name) for name in names):
        return lambda values: cls(**dict(zip(names, values, strict=True)))
    # The values are named by position (v0, v1...), so no field name can hide ``cls``; an
    # unpacking of the wrong length raises ValueError, which ``load`` takes as damage.
    unpacked = "".join(f"v{i}, " for i in range(len(names)))
    passed = ", ".join(f"{name}=v{i}" for i, name in enumerate(names))
    source = f"def build(values):\n    {unpacked}= values\n    return cls({passed})\n"
    namespace: dict[str, Any] = {"cls": cls}
    exec(source, namespace)  # of the class's own field names, checked above
    built: Callable[[tuple[Any, ...]], Any] = namespace["build"]
    return built


def _slot(cls: type, name: str) -> Any:
    """The descriptor of ``cls``'s slot ``name``, wherever in its bases it is declared."""
    for owner in cls.__mro__:
        if name in owner.__dict__ and hasattr(owner.__dict__[name], "__set__"):
            return owner.__dict__[name]
    raise pickle.UnpicklingError(f"{cls.__name__} has no slot {name}")


# Per class: how a slotted dataclass is pickled (None: as pickle would by itself), the
# names of its fields, and a getter of their values as a tuple.
_Slotted = tuple[Any, tuple[str, ...], Any] | None
_SLOTTED: dict[type, _Slotted] = {}


def _slotted(cls: type) -> _Slotted:
    """How to pickle a class's objects by their field values, for a slotted dataclass.

    dataclasses pickles those with __getstate__ and __setstate__ that call fields() for
    every object: three quarters of the time of snapshotting 10,000 positions. Here the
    names are found once per class, and the object is rebuilt by its constructor when that
    takes every field and does nothing more (else by ``restore``)."""
    if cls in _SLOTTED:
        return _SLOTTED[cls]
    found: _Slotted = None
    names: tuple[str, ...] | None = None
    if issubclass(cls, Struct):  # msgspec's own reduction names a function of msgspec's
        names = cls.__struct_fields__
        by_constructor = cls.__match_args__ == names
    elif is_dataclass(cls) and _has_fixed_attributes(cls):
        every = [f for f in fields(cls) if not _cache(f)]
        names = tuple(f.name for f in every)
        by_constructor = all(f.init and not f.kw_only for f in every)
    if names is not None:
        by_constructor = by_constructor and not hasattr(cls, "__post_init__")
        named = names
        getter = attrgetter(*names) if len(names) > 1 else (lambda o: (getattr(o, named[0]),))
        found = (cls if by_constructor else None, names, getter)
    _SLOTTED[cls] = found
    return found


def _has_fixed_attributes(cls: type) -> bool:
    """Slots of its own, or compiled by mypyc (setup.py): attributes at fixed offsets."""
    return "__slots__" in cls.__dict__ or "__mypyc_attrs__" in cls.__dict__


def _cache(f: Field[Any]) -> bool:
    """A field its object works out again from the others when it is None (a position's
    live total, an order's fills' total): not saved, so that the object is rebuilt by its
    constructor (a Python frame, yet half the cost of setting each slot from a dict)."""
    return not (f.init or f.compare or f.repr) and f.default is None


class _Reductions(dict[type, Any]):
    """Each class's reduction, as the pickler's dispatch_table: a bound method as
    getattr(owner, name) would not load (getattr is no domain type), a slotted dataclass or
    struct by its field values (``_slotted``), anything else as pickle would by itself. Found
    once per class and kept, so that the pickler (in C) asks Python only to reduce, not
    which way to, for each of the state's objects (a fifth of taking a snapshot)."""

    def __missing__(self, cls: type) -> Any:
        if issubclass(cls, type):
            raise KeyError(cls)  # a class: pickle saves it by name
        slotted = _slotted(cls)
        reduction: Any
        if cls in copyreg.dispatch_table:
            reduction = copyreg.dispatch_table[cls]
        elif issubclass(cls, MethodType):
            reduction = _method
        elif cls is Decimal:
            reduction = self._amount()
        elif _is_named_tuple(cls):
            reduction = self._key(cls)
        elif slotted is None:
            reduction = _as_pickle_would
        elif slotted[0] is not None and issubclass(cls, Struct):
            # msgspec's own reduction, in C, gives what the lambda below would, (class,
            # values), without a call into Python per object: a quarter of taking a
            # snapshot of 10,000 positions (0.94 s -> 0.69 s), the same bytes.
            reduction = _STRUCT_REDUCTION
        elif slotted[0] is not None:
            constructor, _, values = slotted
            reduction = lambda obj: (constructor, values(obj))  # noqa: E731
        else:
            values = slotted[2]
            reduction = lambda obj: (restore, (type(obj), values(obj)))  # noqa: E731
        self[cls] = reduction
        return reduction

    @staticmethod
    def _key(kind: type) -> Any:
        """A key, by its values the first time an equal one is met, after that as that
        first one: getitem((first,), 0), in C. A book makes an equal key again for every
        report of an order (three for each order kept); a snapshot holds one."""
        first: dict[tuple[Any, ...], Any] = {}  # of this class: equal tuples of another may be

        def reduction(key: tuple[Any, ...]) -> Any:
            try:
                found = first.get(key)
            except TypeError:  # unhashable (it holds a dict): none is equal to another
                return kind, tuple(key)
            if found is None:
                first[key] = (getitem, ((key,), 0))
                return kind, tuple(key)
            return found

        return reduction

    @staticmethod
    def _amount() -> Any:
        """A decimal, by its text the first time that exact text is met, after that as that
        first one (as ``_key``). The state computes equal amounts apart (a lifecycle's size,
        a position's quantity): 275,000 decimals of 1,600 texts in the bench's 10,000
        positions. By text, not by value: 0.10 and 0.1 are equal yet not the same amount."""
        first: dict[str, Any] = {}

        def reduction(amount: Decimal) -> Any:
            text = str(amount)
            found = first.get(text)
            if found is None:
                first[text] = (getitem, ((amount,), 0))
                return Decimal, (text,)
            return found

        return reduction


def _is_named_tuple(cls: type) -> bool:
    """A domain NamedTuple (a key): rebuilt by its constructor from its values, where pickle
    by itself would go through copyreg and __getnewargs__ (12% of taking a snapshot)."""
    return (
        issubclass(cls, tuple)
        and hasattr(cls, "_fields")
        and cls.__module__.startswith("trueup.domain.")
    )


_STRUCT_REDUCTION = methodcaller("__reduce__")


def _method(method: MethodType) -> Any:
    return bound_method, (method.__self__, method.__name__)


def _as_pickle_would(obj: Any) -> Any:
    return obj.__reduce_ex__(PROTOCOL)


PROTOCOL = 5


class _DomainPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self.dispatch_table = _Reductions()


def load(state: bytes) -> Snapshot | None:
    """The snapshot in ``state``; None if another trueup wrote it, or it is damaged."""
    head, _, body = state.partition(b"\n")
    if head != _HEADER + SNAPSHOT_FORMAT.encode():
        return None
    try:
        with _built_long_lived():
            pickled: bytes = lz4.frame.decompress(body)
            position, reconciler = _DomainUnpickler(io.BytesIO(pickled)).load()
    # (LZ4 tells damaged data by RuntimeError.)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError):
        return None
    if not isinstance(position, int) or not isinstance(reconciler, Reconciler):
        return None
    return Snapshot(position, reconciler, len(state))


class _DomainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("trueup.domain.") or (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a snapshot holds no {module}.{name}")
