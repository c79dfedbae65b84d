"""The one axis map between SMPL (Y-up) and Blender (Z-up): (x, y, z) -> (x, -z, y).

The matrix itself is ``shared.axes.Y_UP_TO_Z_UP`` (the same +90° about X that EDGE/MACE files use).
"""

from __future__ import annotations

import numpy as np

from .._shared import axes as shared_axes

#: (3, 3) rotation taking SMPL Y-up coordinates to Blender Z-up coordinates: (x, y, z) -> (x, -z, y).
SMPL_TO_BLENDER = shared_axes.Y_UP_TO_Z_UP


def smpl_to_blender_points(points: np.ndarray) -> np.ndarray:
    """points: (..., 3) metres, SMPL Y-up -> (..., 3) metres, Blender Z-up."""
    return np.asarray(points) @ SMPL_TO_BLENDER.T


def blender_to_smpl_points(points: np.ndarray) -> np.ndarray:
    """points: (..., 3) metres, Blender Z-up -> (..., 3) metres, SMPL Y-up."""
    return np.asarray(points) @ SMPL_TO_BLENDER
