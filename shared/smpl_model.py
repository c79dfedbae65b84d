"""Read the arrays of an SMPL model file without chumpy, scipy or executing the pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InvalidInputError, MissingWeightsError
from .safe_pickle import PickledObject, safe_pickle_loads

SMPL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


def _to_array(value) -> np.ndarray:
    """Plain array from an ndarray, a chumpy ``Ch`` stand-in or a scipy sparse stand-in."""
    if isinstance(value, PickledObject):
        if value.get("x") is not None:  # chumpy Ch keeps its value in `x`
            return np.asarray(value.get("x"))
        data, indices, indptr = value.get("data"), value.get("indices"), value.get("indptr")
        shape = value.get("_shape") or value.get("shape")
        if data is not None and indices is not None and indptr is not None and shape is not None:
            return _densify_compressed(value._pickled_name, data, indices, indptr, tuple(shape))
        raise InvalidInputError(f"unsupported object {value!r} in SMPL model file")
    return np.asarray(value)


def _densify_compressed(kind: str, data, indices, indptr, shape) -> np.ndarray:
    """Dense array of a CSC/CSR matrix given its three buffers."""
    dense = np.zeros(shape, dtype=np.float64)
    by_column = "csc" in kind.lower()
    for major in range(len(indptr) - 1):
        lo, hi = indptr[major], indptr[major + 1]
        if by_column:
            dense[indices[lo:hi], major] = data[lo:hi]
        else:
            dense[major, indices[lo:hi]] = data[lo:hi]
    return dense


def missing_smpl_model_error(path: Path) -> MissingWeightsError:
    return MissingWeightsError(
        f"SMPL model file not found: {path}",
        hint="download SMPL from https://smpl.is.tue.mpg.de (licence required) and choose SMPL_NEUTRAL.pkl as "
        "the SMPL model in the add-on preferences — or leave that empty to use the built-in rest skeleton",
    )


def load_smpl_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of an SMPL ``.pkl``/``.npz`` model: v_template (V,3), shapedirs (V,3,B), J_regressor (24,V) …"""
    path = Path(path)
    if not path.is_file():
        raise missing_smpl_model_error(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            raw = {key: data[key] for key in data.files}
    else:
        raw = safe_pickle_loads(path.read_bytes())
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{path} is not an SMPL model (expected a dict, got {type(raw).__name__})")
    missing = [key for key in ("v_template", "J_regressor") if key not in raw]
    if missing:
        raise InvalidInputError(f"{path} is not an SMPL model: missing {', '.join(missing)}")
    return {key: _to_array(raw[key]) for key in SMPL_KEYS if key in raw}
