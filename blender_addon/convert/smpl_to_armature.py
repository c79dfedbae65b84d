"""SMPL motion -> rest bones and keyframe arrays for the Blender armature (pure numpy).

See the package docstring for the axis convention that makes rotations map verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._shared import rotations, skeleton as smpl_skeleton
from .axes import smpl_to_blender_points

#: Length of every bone, metres. All bones point straight up (+Z) whatever the limb direction, so the
#: length is only a display choice; 10 cm keeps joints readable without hiding the silhouette.
BONE_LENGTH = 0.1


@dataclass(frozen=True)
class ArmatureRest:
    """Rest layout of the SMPL armature.

    Attributes:
        names: (J,) SMPL joint names, used as bone names.
        parents: (J,) int64, root -1.
        heads: (J, 3) float64, metres, Blender Z-up, armature space — the rest joint positions.
        tails: (J, 3) float64 — ``heads + (0, 0, BONE_LENGTH)``.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    heads: np.ndarray
    tails: np.ndarray


@dataclass(frozen=True)
class PoseKeys:
    """Pose-bone keyframe values for every frame of a motion.

    Attributes:
        frames: (T,) float64 Blender frame numbers (``frame_start + t``).
        quaternions: (T, J, 4) float64 (w, x, y, z) pose-bone rotations; made hemisphere-continuous over
            time so interpolating between keys never takes the long way round.
        location: (T, 3) float64 metres, pelvis pose-bone location (= SMPL ``trans``, bone-local frame).
    """

    frames: np.ndarray
    quaternions: np.ndarray
    location: np.ndarray


def armature_rest(skeleton=None) -> ArmatureRest:
    """Rest bones from a ``shared.skeleton.Skeleton`` (default: the EDGE/MACE skeleton)."""
    skeleton = skeleton or smpl_skeleton.Skeleton.default()
    heads = smpl_to_blender_points(skeleton.rest_positions())
    tails = heads + np.array([0.0, 0.0, BONE_LENGTH])
    return ArmatureRest(tuple(smpl_skeleton.JOINT_NAMES), np.asarray(skeleton.parents), heads, tails)


def pose_keys(poses: np.ndarray, trans: np.ndarray, frame_start: int = 1) -> PoseKeys:
    """poses: (T, J, 3) axis-angle radians, trans: (T, 3) metres, both SMPL Y-up -> :class:`PoseKeys`."""
    poses = np.asarray(poses, dtype=np.float64)
    quaternions = rotations.make_quaternions_continuous(rotations.axis_angle_to_quaternion(poses))
    frames = frame_start + np.arange(len(poses), dtype=np.float64)
    return PoseKeys(frames, quaternions, np.asarray(trans, dtype=np.float64).copy())


def smpl_to_armature(motion, skeleton=None, frame_start: int = 1) -> tuple[ArmatureRest, PoseKeys]:
    """A ``shared.motion.Motion`` -> (rest bones, keyframe arrays)."""
    return armature_rest(skeleton), pose_keys(motion.poses, motion.trans, frame_start)


def rotation_data_path(bone: str, mode: str = "QUATERNION") -> str:
    """RNA path of a pose bone's rotation channel for a Blender rotation mode."""
    prop = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
    return f'pose.bones["{bone}"].{prop}'


def location_data_path(bone: str) -> str:
    return f'pose.bones["{bone}"].location'


@dataclass(frozen=True)
class FCurveKeys:
    """One F-curve's worth of keys.

    Attributes:
        data_path: RNA path (``pose.bones["pelvis"].location``).
        index: array index of the channel.
        group: F-curve group (the bone name).
        co: (2 T,) float32 interleaved (frame, value) pairs, the layout ``keyframe_points.foreach_set("co")``
            expects.
    """

    data_path: str
    index: int
    group: str
    co: np.ndarray


def interleave(frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    """frames: (T,), values: (T,) -> (2 T,) float32 ``[f0, v0, f1, v1, ...]``."""
    return np.stack([frames, values], axis=-1).astype(np.float32).ravel()


def fcurve_keys(keys: PoseKeys, names: tuple[str, ...] = smpl_skeleton.JOINT_NAMES) -> list[FCurveKeys]:
    """All F-curves of one imported motion: the root bone's location (3) + every bone's quaternion (4 x J)."""
    root = names[0]
    curves = [FCurveKeys(location_data_path(root), i, root, interleave(keys.frames, keys.location[:, i]))
              for i in range(3)]  # fmt: skip
    for j, name in enumerate(names):
        path = rotation_data_path(name)
        curves.extend(FCurveKeys(path, i, name, interleave(keys.frames, keys.quaternions[:, j, i])) for i in range(4))
    return curves
