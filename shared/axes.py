"""Up-axis conventions, stated once.

Canonical motion is SMPL Y-up. EDGE/MACE files (and Blender) are Z-up: they rotate the world +90° about X,
which maps a Y-up point (x, y, z) to (x, −z, y).
"""

from __future__ import annotations

import numpy as np

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle

#: Rotation taking Y-up coordinates to Z-up coordinates (+90° about X).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
Z_UP_TO_Y_UP = Y_UP_TO_Z_UP.T


def rotate_world(poses: np.ndarray, trans: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate a whole motion about the origin: root orientation and translation change, body poses don't.

    Args:
        poses: (T, 24, 3) axis-angle.
        trans: (T, 3).
        rotation: (3, 3) world rotation.
    Returns:
        New ``(poses, trans)`` arrays (float64).
    """
    poses = np.array(poses, dtype=np.float64)
    root = rotation @ axis_angle_to_matrix(poses[:, 0])
    poses[:, 0] = matrix_to_axis_angle(root)
    return poses, np.asarray(trans, dtype=np.float64) @ rotation.T


def z_up_to_y_up(poses: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EDGE/MACE (Z-up) motion arrays to canonical Y-up."""
    return rotate_world(poses, trans, Z_UP_TO_Y_UP)


def y_up_to_z_up(poses: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical Y-up motion arrays to EDGE/MACE Z-up."""
    return rotate_world(poses, trans, Y_UP_TO_Z_UP)
