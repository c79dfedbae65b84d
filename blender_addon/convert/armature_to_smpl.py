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
from . import rig
from .axes import SMPL_TO_BLENDER, blender_to_smpl_points

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


def _locals_from_globals(global_rot: np.ndarray, parents: np.ndarray) -> np.ndarray:
    local = np.empty_like(global_rot)
    for j, parent in enumerate(parents):
        local[:, j] = global_rot[:, j] if parent < 0 else np.swapaxes(global_rot[:, parent], -1, -2) @ global_rot[:, j]
    return local


def _trans(pelvis_head: np.ndarray, frames) -> np.ndarray:
    """(T, 3) SMPL trans from the pelvis bone's posed head (armature space): the inverse of the root's key."""
    return blender_to_smpl_points(pelvis_head - frames.heads[1] + frames.lift)


def channels_to_local(joint_basis: np.ndarray, root_basis: np.ndarray, root_location: np.ndarray, frames,
                      pelvis_location: np.ndarray | None = None):
    """Pose channels of the rig -> SMPL local rotations and trans.

    Args:
        joint_basis: (T, J, 3, 3) rotation of each joint bone's pose channels (``channels_to_matrix``).
        root_basis: (T, 3, 3) rotation of the root bone's channels; root_location: (T, 3) its location;
        pelvis_location: (T, 3) the pelvis bone's location (None: zero).
        frames: the rig's :class:`.rig.RigFrames`.

    Returns:
        local: (T, J, 3, 3) SMPL local rotations (Y-up); trans: (T, 3) metres, Y-up.
    """
    conj = rig.joint_frames(frames)
    local = conj @ np.asarray(joint_basis, dtype=np.float64) @ np.swapaxes(conj, -1, -2)
    root_rest = np.asarray(frames.matrices[0], dtype=np.float64)
    root_world = root_rest @ root_basis @ root_rest.T  # the root's rotation in armature space
    local[:, 0] = SMPL_TO_BLENDER.T @ root_world @ SMPL_TO_BLENDER @ local[:, 0]
    root_head = frames.heads[0]
    offset = frames.heads[1] - root_head
    if pelvis_location is not None:
        offset = offset + pelvis_location @ np.asarray(frames.matrices[1], dtype=np.float64).T
    pelvis_head = root_head + root_location @ root_rest.T + np.einsum("tij,tj->ti", root_world,
                                                                      np.broadcast_to(offset, root_location.shape))
    return local, _trans(pelvis_head, frames)


def visual_to_local(bone_matrices: np.ndarray, frames, parents: np.ndarray = smpl_skeleton.PARENTS):
    """Armature-space pose matrices of the joint bones -> SMPL local rotations and trans.

    Args:
        bone_matrices: (T, J, 4, 4) float, ``PoseBone.matrix`` of every SMPL joint bone (armature space, Z-up).
        frames: the rig's :class:`.rig.RigFrames`.
        parents: (J,) int, root -1.

    Returns:
        local: (T, J, 3, 3) SMPL local rotation matrices (Y-up); trans: (T, 3) metres, SMPL Y-up.

    A bone resting with orientation B_j and posed to R_j turned the body part by ``R_j B_j^T`` in armature
    space, i.e. by the SMPL global rotation ``G_j = A^T R_j B_j^T A``; local = G_parent^T G_child. Scale is
    discarded.
    """
    matrices = np.asarray(bone_matrices, dtype=np.float64)
    u, _, vt = np.linalg.svd(matrices[..., :3, :3])
    linear = u @ vt  # the nearest rotation: drops scale and float32 round-off
    rest = np.asarray(frames.matrices, dtype=np.float64)[1:]
    global_rot = SMPL_TO_BLENDER.T @ linear @ np.swapaxes(rest, -1, -2) @ SMPL_TO_BLENDER
    return _locals_from_globals(global_rot, parents), _trans(matrices[:, 0, :3, 3], frames)


def local_to_poses(local: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) local rotations -> (T, J, 3) float32 axis-angle radians."""
    return rotations.matrix_to_axis_angle(local).astype(np.float32)
