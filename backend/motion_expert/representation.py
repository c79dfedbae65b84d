"""The 151-d motion representation of EDGE / MACE-Dance, in torch (differentiable) and numpy.

One frame, in EDGE order (Z-up world, as the official data and checkpoint)::

    [0:4]    foot contacts of joints 7, 8, 10, 11 (left ankle, right ankle, left toe, right toe), 1 = planted
    [4:7]    root (pelvis) position, metres, Z-up
    [7:151]  24 joints x 6D rotation (first two rows of the local rotation matrix); joint j = [7+6j, 13+6j)

The canonical :class:`shared.motion.Motion` is Y-up; EDGE rotates the world +90 degrees about X on the way
in (a Y-up point (x, y, z) becomes (x, -z, y)) and back on the way out. Values are scaled to [-1, 1] per
channel by :class:`Normalizer` (EDGE's MinMaxScaler, fitted on the training set, stored in the checkpoint).
"""

from __future__ import annotations

import numpy as np
import torch

from shared.axes import y_up_to_z_up, z_up_to_y_up
from shared.motion import Motion
from shared.rotations import axis_angle_to_rotation_6d, rotation_6d_to_axis_angle
from shared.skeleton import FOOT_JOINTS, NUM_JOINTS, PARENTS, REST_OFFSETS

from .config import NUM_CONTACTS, ROOT_POSITION_SLICE, ROTATION_6D, ROTATION_OFFSET

#: EDGE's contact rule: a foot joint moving less than this per frame (metres, at 30 fps) is planted.
CONTACT_THRESHOLD_M = 0.01


def joint_channels(joint: int) -> slice:
    """Channels of joint ``joint``'s 6D rotation in a 151-d frame."""
    start = ROTATION_OFFSET + ROTATION_6D * joint
    return slice(start, start + ROTATION_6D)


# -- torch geometry (differentiable) -----------------------------------------------------------------------
def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3): Gram-Schmidt on the two rows (pytorch3d's convention, which EDGE uses)."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    return torch.stack((b1, b2, torch.cross(b1, b2, dim=-1)), dim=-2)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two rows."""
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def forward_kinematics_6d(rotations_6d: torch.Tensor, root_position: torch.Tensor) -> torch.Tensor:
    """Joint positions from 6D local rotations on the default SMPL skeleton (EDGE's ``SMPLSkeleton``).

    Args:
        rotations_6d: (..., 24, 6) local rotations, joint 0 = root orientation in the world.
        root_position: (..., 3) pelvis position.
    Returns:
        (..., 24, 3) joint positions in the same world frame as ``root_position``.
    """
    local = rotation_6d_to_matrix(rotations_6d)
    offsets = torch.as_tensor(REST_OFFSETS, dtype=local.dtype, device=local.device)
    world_rot: list[torch.Tensor] = []
    positions: list[torch.Tensor] = []
    for joint, parent in enumerate(PARENTS.tolist()):
        if parent < 0:
            world_rot.append(local[..., joint, :, :])
            positions.append(root_position)
        else:
            positions.append(positions[parent] + torch.einsum("...ij,j->...i", world_rot[parent], offsets[joint]))
            world_rot.append(world_rot[parent] @ local[..., joint, :, :])
    return torch.stack(positions, dim=-2)


def features_to_joints(features: torch.Tensor) -> torch.Tensor:
    """(..., T, 151) frames -> (..., T, 24, 3) joint positions (FK on the root and 6D channels)."""
    rotations = features[..., ROTATION_OFFSET:].reshape(*features.shape[:-1], NUM_JOINTS, ROTATION_6D)
    return forward_kinematics_6d(rotations, features[..., ROOT_POSITION_SLICE])


# -- Motion <-> 151-d frames (numpy, unnormalised) ---------------------------------------------------------
def foot_contacts(joints: np.ndarray) -> np.ndarray:
    """EDGE's contact labels: (T, 24, 3) joint positions -> (T, 4) float32, 1 where the foot moves < 1 cm
    to the next frame (the last frame counts as still)."""
    feet = np.asarray(joints)[:, list(FOOT_JOINTS)]
    speed = np.zeros(feet.shape[:2])
    speed[:-1] = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)
    return (speed < CONTACT_THRESHOLD_M).astype(np.float32)


def motion_to_features(motion: Motion) -> np.ndarray:
    """A canonical (Y-up) motion at 30 fps -> (T, 151) float32 EDGE frames (Z-up, unnormalised)."""
    contacts = foot_contacts(motion.joint_positions())
    poses, trans = y_up_to_z_up(motion.poses, motion.trans)
    rotations = axis_angle_to_rotation_6d(poses).reshape(len(poses), -1)
    return np.concatenate([contacts, trans, rotations], axis=1).astype(np.float32)


def features_to_motion(features: np.ndarray, fps: float = 30.0, metadata: dict | None = None) -> Motion:
    """(T, 151) EDGE frames (Z-up, unnormalised) -> canonical Y-up :class:`Motion` with contacts."""
    features = np.asarray(features, dtype=np.float64)
    poses = rotation_6d_to_axis_angle(features[:, ROTATION_OFFSET:].reshape(len(features), NUM_JOINTS, ROTATION_6D))
    poses, trans = z_up_to_y_up(poses, features[:, ROOT_POSITION_SLICE])
    contacts = np.clip(features[:, :NUM_CONTACTS], 0.0, 1.0)
    return Motion(poses=poses, trans=trans, fps=fps, contacts=contacts, metadata=dict(metadata or {}))


# -- normaliser ---------------------------------------------------------------------------------------------
class Normalizer:
    """EDGE's per-channel MinMax scaling to [-1, 1]: ``x * scale + offset`` (``scale_``/``min_`` of its
    MinMaxScaler). ``unnormalize`` clips to [-1, 1] first, as EDGE does.

    Attributes:
        scale: (F,) float32.
        offset: (F,) float32.
    """

    def __init__(self, scale: np.ndarray, offset: np.ndarray):
        self.scale = np.asarray(scale, dtype=np.float32).reshape(-1)
        self.offset = np.asarray(offset, dtype=np.float32).reshape(-1)
        if self.scale.shape != self.offset.shape:
            raise ValueError(f"normaliser scale {self.scale.shape} and offset {self.offset.shape} differ")
        if not (np.isfinite(self.scale).all() and np.isfinite(self.offset).all()) or (self.scale == 0).any():
            raise ValueError("normaliser has non-finite or zero scale values")

    @classmethod
    def fit(cls, data: np.ndarray) -> "Normalizer":
        """Fit on (..., F) unnormalised frames (constant channels get scale 1, like sklearn/EDGE)."""
        flat = np.asarray(data, dtype=np.float32).reshape(-1, np.shape(data)[-1])
        low, high = flat.min(axis=0), flat.max(axis=0)
        span = high - low
        span = np.where(span < 10 * np.finfo(np.float32).eps, 1.0, span)
        scale = 2.0 / span
        return cls(scale, -1.0 - low * scale)

    @property
    def num_features(self) -> int:
        return len(self.scale)

    def _params(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.as_tensor(self.scale, dtype=like.dtype, device=like.device),
                torch.as_tensor(self.offset, dtype=like.dtype, device=like.device))  # fmt: skip

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., F) unnormalised -> [-1, 1] (clipped, as EDGE's scaler with clip=True)."""
        scale, offset = self._params(x)
        return (x * scale + offset).clamp(-1.0, 1.0)

    def unnormalize(self, x: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """(..., F) normalised -> unnormalised; ``clip`` clamps to [-1, 1] first (EDGE does)."""
        scale, offset = self._params(x)
        if clip:
            x = x.clamp(-1.0, 1.0)
        return (x - offset) / scale

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scale": self.scale, "offset": self.offset}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "Normalizer":
        return cls(np.asarray(arrays["scale"]), np.asarray(arrays["offset"]))
