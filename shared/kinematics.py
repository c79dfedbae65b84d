"""Forward kinematics of the SMPL skeleton in numpy."""

from __future__ import annotations

import numpy as np

from .rotations import axis_angle_to_matrix
from .skeleton import Skeleton


def global_rotations(poses: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
    """World rotation of every joint.

    Args:
        poses: (T, J, 3) axis-angle, radians, local to each joint's parent; or (T, J, 3, 3) those rotations as
            matrices.
    Returns:
        (T, J, 3, 3) float64.
    """
    skeleton = skeleton or Skeleton.default()
    poses = np.asarray(poses, dtype=np.float64)
    local = poses if poses.shape[-2:] == (3, 3) else axis_angle_to_matrix(poses)
    world = np.empty_like(local)
    for j, parent in enumerate(skeleton.parents):
        world[:, j] = local[:, j] if parent < 0 else world[:, parent] @ local[:, j]
    return world


def forward_kinematics(
    poses: np.ndarray, trans: np.ndarray, skeleton: Skeleton | None = None, *, rotations: np.ndarray | None = None
) -> np.ndarray:
    """Joint positions of a posed skeleton.

    Args:
        poses: (T, J, 3) axis-angle, radians.
        trans: (T, 3) metres, Y-up (the pelvis sits at ``trans + skeleton.offsets[0]``).
        skeleton: rest skeleton; the default EDGE/MACE one when None.
        rotations: (T, J, 3, 3) :func:`global_rotations` of ``poses`` if the caller has them already.
    Returns:
        (T, J, 3) float64 joint positions, metres, same frame as ``trans``.
    """
    skeleton = skeleton or Skeleton.default()
    world_rot = global_rotations(poses, skeleton) if rotations is None else rotations
    offsets = skeleton.offsets
    positions = np.empty(world_rot.shape[:-2] + (3,), dtype=np.float64)
    for j, parent in enumerate(skeleton.parents):
        if parent < 0:
            positions[:, j] = np.asarray(trans, dtype=np.float64) + offsets[j]
        else:
            positions[:, j] = positions[:, parent] + world_rot[:, parent] @ offsets[j]
    return positions
