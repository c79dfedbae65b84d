"""A pickle reader that builds numpy arrays and plain containers and nothing else.

Research dance data (AIST++, EDGE/MACE outputs, SMPL model files) ships as pickles. ``pickle.load`` runs
whatever the file names, so these files are read with an allow-list: numpy arrays/dtypes/scalars and
builtin containers. Classes a caller knows to be inert (chumpy ``Ch``, scipy sparse matrices, EDGE's
normaliser) can be mapped to :class:`PickledObject` stand-ins, which only keep their constructor
arguments and state. Anything else raises :class:`UnsafePickleError` before it is called.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Mapping

from .errors import InvalidInputError


class UnsafePickleError(InvalidInputError):
    """The pickle names a global outside the allow-list."""


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


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, extra: Mapping[str, type], stand_in_prefixes: tuple[str, ...], **kwargs):
        super().__init__(file, **kwargs)
        self._extra = extra
        self._prefixes = stand_in_prefixes
        self._made: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
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
    try:
        return _RestrictedUnpickler(
            io.BytesIO(data), extra_classes or {}, stand_in_prefixes, encoding="latin1"
        ).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # corrupt or truncated pickles raise many different types
        raise InvalidInputError(f"not a readable pickle: {exc}") from exc
