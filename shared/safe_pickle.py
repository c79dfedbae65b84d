"""A pickle reader that builds numpy arrays and plain containers and nothing else.

Research dance data (AIST++, EDGE/MACE outputs, SMPL model files) ships as pickles. ``pickle.load`` runs
whatever the file names, so these files are read with an allow-list: numpy arrays/dtypes/scalars and
builtin containers. Classes a caller knows to be inert (chumpy ``Ch``, scipy sparse matrices, EDGE's
normaliser) can be mapped to :class:`PickledObject` stand-ins, which only keep their constructor
arguments and state. Anything else raises :class:`UnsafePickleError` before it is called.

Allowed callables are also held to a budget, since a 1 KiB pickle can ask ``bytearray(3 << 30)`` or build a
"billion laughs" of lists sharing lists: ``bytes``/``bytearray`` get no more bytes than the pickle holds
(plus ``MAX_BUILT_BYTES``), array shapes fit the same budget, the opcodes are scanned before loading so
that a pickle referring back to what it built more than ``MAX_SHARED_REFERENCES`` times is refused, and the
loaded containers may not expand (each shared container counted wherever it appears, as code walking them
would visit it) past ``MAX_EXPANDED_ITEMS``, nor contain themselves.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from typing import Any, Mapping

from .errors import InvalidInputError


class UnsafePickleError(InvalidInputError):
    """The pickle names a global outside the allow-list."""


#: Bytes a ``bytes(n)``/``bytearray(n)`` call in a pickle may make beyond the pickle's own size.
MAX_BUILT_BYTES = 64 << 20
#: References back to already-built objects (memo gets) one pickle may make.
MAX_SHARED_REFERENCES = 100_000
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
#: Items the loaded containers may hold once shared ones are counted at each place they appear.
MAX_EXPANDED_ITEMS = 10_000_000


class PickledObject:
    """Inert stand-in for an allow-listed foreign class: keeps ``args`` and ``state``, runs no code."""

    _pickled_name = "?"

    def __init__(self, *args: Any, **kwargs: Any):
        self.args = args
        self.state: Any = kwargs or None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<pickled {self._pickled_name}>"

    def get(self, key: str, default: Any = None) -> Any:
        """Read one attribute of the pickled object's state (dict state, or (dict, slots) tuples)."""
        state = self.state
        if isinstance(state, tuple):  # (dict, slots) form
            merged: dict = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        return state.get(key, default) if isinstance(state, dict) else default


def stand_in(qualified_name: str) -> type[PickledObject]:
    """A fresh stand-in class that remembers which pickled class it replaces."""
    return type(qualified_name.rsplit(".", 1)[-1], (PickledObject,), {"_pickled_name": qualified_name})


_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTIN_GLOBALS = {
    ("builtins", name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes",
                 "bytearray", "bool", "slice", "object")
} | {("collections", "OrderedDict"), ("_codecs", "encode"), ("copyreg", "_reconstructor")}  # fmt: skip

# Inert research classes that commonly appear in dance/SMPL pickles.
_DEFAULT_STAND_INS = ("chumpy.", "scipy.sparse.")


def _budgeted(make: type, limit: int):
    """``bytes``/``bytearray`` as a pickle may call them: from data, or zero-filled up to ``limit`` bytes."""

    def build(*args):
        size = args[0] if args else 0
        if isinstance(size, int) and not isinstance(size, bool) and size > limit:
            raise UnsafePickleError(f"refusing to build a {make.__name__} of {size:,} bytes from a pickle "
                                    f"(at most {limit:,})", hint="the file is damaged or crafted")
        return make(*args)

    return build


def _budgeted_array(make, shape_at: int, limit: int):
    """numpy's array constructors as a pickle may call them: the shape asked for must fit ``limit`` bytes
    (its data comes later, from the pickle itself)."""

    def build(*args, **kwargs):
        args = tuple(getattr(arg, "__wrapped__", arg) for arg in args)  # _reconstruct(ndarray, …) wants the class
        shape = args[shape_at] if len(args) > shape_at else kwargs.get("shape", ())
        shape = (shape,) if isinstance(shape, int) else shape
        if isinstance(shape, (tuple, list)) and all(isinstance(n, int) and n >= 0 for n in shape):
            count = 1
            for n in shape:
                count *= n
            if count > limit:  # at least a byte per element
                raise UnsafePickleError(f"refusing to build an array of shape {tuple(shape)} from a pickle "
                                        f"(at most {limit:,} bytes)", hint="the file is damaged or crafted")
        return make(*args, **kwargs)

    build.__wrapped__ = make
    return build


def _check_expansion(root: Any, limit: int) -> None:
    """Refuse containers that expand past ``limit`` items when walked (lists sharing lists, 8 ** 40 in a few
    KiB) or that contain themselves; linear in the distinct containers (sizes are memoised, iteratively)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        obj, children_done = stack.pop()
        if isinstance(obj, dict):
            children = [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        elif isinstance(obj, PickledObject):
            children = [getattr(obj, "args", ()), getattr(obj, "state", None)]  # (no __init__ when built by __new__)
        else:
            continue
        key = id(obj)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            if total > limit:
                raise UnsafePickleError(f"refusing a pickle whose containers expand past {limit:,} items when "
                                        f"walked (shared lists nested in lists)", hint="the file is damaged or crafted")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise UnsafePickleError("refusing a pickle whose containers contain themselves",
                                    hint="the file is damaged or crafted")
        on_path.add(key)
        stack.append((obj, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def check_pickle_budget(data: bytes, max_references: int = MAX_SHARED_REFERENCES) -> None:
    """Scan ``data``'s opcodes (without running them) and refuse a reference bomb: more than
    ``max_references`` references back to objects it already built."""
    references = 0
    try:
        for opcode, _, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name in _MEMO_GETS:
                references += 1
                if references > max_references:
                    raise UnsafePickleError(f"refusing a pickle that refers back to shared objects more than "
                                            f"{max_references:,} times", hint="the file is damaged or crafted")
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or not a pickle: the loader reports it
        raise InvalidInputError(f"not a readable pickle: {exc}") from exc


def check_pickle_integers(data: bytes, limit: int, name: str) -> None:
    """Refuse a pickle (by its opcodes, without running it) holding an integer above ``limit``: in a torch
    checkpoint every size, shape and offset is bounded by the bytes of the file, so a larger one can only
    ask for an allocation the file cannot fill (``bytearray(3 << 30)`` in a 1 KiB file)."""
    try:
        for opcode, argument, _ in pickletools.genops(io.BytesIO(data)):
            if isinstance(argument, int) and not isinstance(argument, bool) and argument > limit:
                raise UnsafePickleError(f"{name}: its pickle asks for {argument:,}, more than the {limit:,} bytes "
                                        f"the file holds", hint="the file is damaged or crafted: download it again")
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or not a pickle
        raise InvalidInputError(f"{name}: not a readable pickle ({exc})", hint="download it again") from exc


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, extra: Mapping[str, type], stand_in_prefixes: tuple[str, ...], *,
                 max_built_bytes: int = MAX_BUILT_BYTES, **kwargs):
        super().__init__(file, **kwargs)
        self._extra = extra
        self._prefixes = stand_in_prefixes
        self._made: dict[str, type] = {}
        self._max_built_bytes = max_built_bytes

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in {("builtins", "bytes"), ("builtins", "bytearray")}:
            return _budgeted(bytes if name == "bytes" else bytearray, self._max_built_bytes)
        if (module, name) in _NUMPY_GLOBALS and name in ("_reconstruct", "ndarray"):
            return _budgeted_array(super().find_class(module, name), 1 if name == "_reconstruct" else 0,
                                   self._max_built_bytes)
        if (module, name) in _NUMPY_GLOBALS or (module, name) in _BUILTIN_GLOBALS:
            if module.startswith("numpy"):
                import numpy  # noqa: F401  (ensures the real module is loaded)
            return super().find_class(module, name)
        qualified = f"{module}.{name}"
        if qualified in self._extra:
            return self._extra[qualified]
        if any(qualified.startswith(prefix) for prefix in self._prefixes):
            return self._made.setdefault(qualified, stand_in(qualified))
        raise UnsafePickleError(
            f"refusing to load `{qualified}` from a pickle",
            hint="only numpy arrays and plain containers are read from pickle files; convert the file to .npz",
        )


def safe_pickle_loads(
    data: bytes,
    *,
    extra_classes: Mapping[str, type] | None = None,
    stand_in_prefixes: tuple[str, ...] = _DEFAULT_STAND_INS,
) -> Any:
    """Unpickle ``data`` allowing only numpy arrays, builtin containers and mapped stand-ins.

    Args:
        data: the pickle bytes.
        extra_classes: ``"module.Name" -> class`` for further inert classes (e.g. a normaliser stand-in).
        stand_in_prefixes: module prefixes whose classes become :class:`PickledObject` stand-ins.
    """
    check_pickle_budget(data)
    try:
        loaded = _RestrictedUnpickler(
            io.BytesIO(data), extra_classes or {}, stand_in_prefixes, encoding="latin1",
            max_built_bytes=len(data) + MAX_BUILT_BYTES,
        ).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # corrupt or truncated pickles raise many different types
        raise InvalidInputError(f"not a readable pickle: {exc}") from exc
    _check_expansion(loaded, MAX_EXPANDED_ITEMS)
    return loaded
