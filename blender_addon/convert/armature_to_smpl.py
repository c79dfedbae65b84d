"""What Blender evaluated on the armature -> SMPL poses and trans (pure numpy).

Two sources are supported:

* channel values (fast path): per-bone rotation channel values in whatever rotation mode the animator
  chose (quaternion, any Euler order, axis-angle) plus the pelvis location, read from the F-curves;
* visual bone matrices (``PoseBone.matrix``, armature space), which include constraints, IK, drivers and
  NLA, read frame by frame.
"""

from __future__ import annotations

import numpy as np

from .._shared import errors, rotations, skeleton as smpl_skeleton
from .axes import BONE_REST_MATRIX, blender_to_smpl_points

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def _axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotation about one coordinate axis."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "X": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        "Y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        "Z": ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Blender Euler -> matrix. angles: (..., 3) radians about X, Y, Z; order e.g. ``"XYZ"``.

    Blender applies the axes in the order written: ``"XYZ"`` is ``Rz @ Ry @ Rx``.
    """
    if order not in EULER_ORDERS:
        raise errors.InvalidInputError(f"unknown Euler order {order!r}", hint=f"use one of {', '.join(EULER_ORDERS)}")
    angles = np.asarray(angles, dtype=np.float64)
    index = {"X": 0, "Y": 1, "Z": 2}
    first, second, third = (_axis_rotation(a, angles[..., index[a]]) for a in order)
    return third @ second @ first


def channels_to_matrix(values: np.ndarray, mode: str) -> np.ndarray:
    """Pose-bone rotation channel values -> (..., 3, 3) rotation matrices.

    values: (..., 4) for ``"QUATERNION"`` (w, x, y, z; need not be unit length, Blender normalises it too)
    and ``"AXIS_ANGLE"`` (angle, x, y, z); (..., 3) radians for an Euler order such as ``"XYZ"``.
    """
    values = np.asarray(values, dtype=np.float64)
    if mode == "QUATERNION":
        norm = np.linalg.norm(values, axis=-1, keepdims=True)
        identity = np.array([1.0, 0.0, 0.0, 0.0])
        unit = np.where(norm > 1e-12, values / np.maximum(norm, 1e-12), identity)
        return rotations.quaternion_to_matrix(unit)
    if mode == "AXIS_ANGLE":
        axis = values[..., 1:]
        norm = np.linalg.norm(axis, axis=-1, keepdims=True)
        unit = np.where(norm > 1e-12, axis / np.maximum(norm, 1e-12), 0.0)
        return rotations.axis_angle_to_matrix(unit * values[..., :1])
    return euler_to_matrix(values, mode)


def visual_to_local(bone_matrices: np.ndarray, rest_heads: np.ndarray, parents: np.ndarray = smpl_skeleton.PARENTS):
    """Armature-space pose matrices -> SMPL local rotations and trans.

    Args:
        bone_matrices: (T, J, 4, 4) float, ``PoseBone.matrix`` of every bone (armature space, Z-up).
        rest_heads: (J, 3) rest head positions, metres, Blender Z-up.
        parents: (J,) int, root -1.

    Returns:
        local: (T, J, 3, 3) SMPL local rotation matrices (Y-up); trans: (T, 3) metres, SMPL Y-up.

    Every bone's rest orientation is ``BONE_REST_MATRIX`` (R0), so a bone's armature-space matrix is
    ``R0 @ G`` with G its SMPL global rotation; local = G_parent^T G_child. Scale is discarded.
    """
    matrices = np.asarray(bone_matrices, dtype=np.float64)
    linear = matrices[..., :3, :3]
    linear = linear / np.linalg.norm(linear, axis=-2, keepdims=True)  # drop per-axis scale
    global_rot = BONE_REST_MATRIX.T @ linear  # (T, J, 3, 3)
    local = np.empty_like(global_rot)
    for j, parent in enumerate(parents):
        local[:, j] = global_rot[:, j] if parent < 0 else np.swapaxes(global_rot[:, parent], -1, -2) @ global_rot[:, j]
    root_head = matrices[:, 0, :3, 3]
    trans = blender_to_smpl_points(root_head - rest_heads[0])
    return local, trans


def local_to_poses(local: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) local rotations -> (T, J, 3) float32 axis-angle radians."""
    return rotations.matrix_to_axis_angle(local).astype(np.float32)
