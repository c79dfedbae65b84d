"""SMPL motion -> keyframe arrays for the rig of :mod:`.rig` (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._shared import body_mesh, rotations, skeleton as smpl_skeleton
from . import rig
from .axes import smpl_to_blender_points


@dataclass(frozen=True)
class PoseKeys:
    """Pose-bone keyframe values for every frame of a motion.

    Attributes:
        frames: (T,) float64 Blender frame numbers (``frame_start + t``).
        quaternions: (T, J, 4) float64 (w, x, y, z) rotations of the joint bones (each in its bone's rest
            frame); made hemisphere-continuous over time so interpolating never takes the long way round.
        location: (T, 3) float64 metres, the root bone's location: the ground projection of the pelvis (the root
            stays on the floor, under the pelvis).
        pelvis_location: (T, 3) float64 metres, the pelvis bone's location (in its rest frame): the rest of
            the translation (height, and the pelvis' rest offset from the root).
    """

    frames: np.ndarray
    quaternions: np.ndarray
    location: np.ndarray
    pelvis_location: np.ndarray


def split_translation(pelvis_head: np.ndarray, frames: rig.RigFrames) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) posed pelvis heads (armature space) -> the root's location (on the floor under the pelvis) and the
    pelvis bone's location that keeps the pelvis there (the root is never rotated by an import)."""
    root_rest = np.asarray(frames.matrices[0], dtype=np.float64)
    pelvis_rest = np.asarray(frames.matrices[1], dtype=np.float64)
    root_head = np.asarray(pelvis_head, dtype=np.float64) * [1.0, 1.0, 0.0]
    root_location = (root_head - frames.heads[0]) @ root_rest
    pelvis_location = (pelvis_head - root_head - (frames.heads[1] - frames.heads[0])) @ pelvis_rest
    return root_location, pelvis_location


def pose_keys(poses: np.ndarray, trans: np.ndarray, frames: rig.RigFrames, frame_start: int = 1) -> PoseKeys:
    """poses: (T, J, 3) axis-angle radians, trans: (T, 3) metres, both SMPL Y-up -> :class:`PoseKeys`.

    A bone whose rest frame is ``C`` in SMPL axes takes the SMPL rotation conjugated, ``C^T L C``: the same
    angle about the axis ``C^T a`` (exact, no matrix round trip). The root bone's location puts the pelvis at
    ``trans`` (plus the model's pelvis offset) with the root unrotated, split between the root (on the floor
    under the pelvis) and the pelvis (:func:`split_translation`).
    """
    poses = np.asarray(poses, dtype=np.float64)
    bone_axis_angle = np.einsum("jik,tji->tjk", rig.joint_frames(frames), poses)
    quaternions = rotations.make_quaternions_continuous(rotations.axis_angle_to_quaternion(bone_axis_angle))
    pelvis_head = smpl_to_blender_points(np.asarray(trans, dtype=np.float64)) - frames.lift + frames.heads[1]
    location, pelvis_location = split_translation(pelvis_head, frames)
    frame_numbers = frame_start + np.arange(len(poses), dtype=np.float64)
    return PoseKeys(frame_numbers, quaternions, location, pelvis_location)


def rotation_data_path(bone: str, mode: str = "QUATERNION") -> str:
    """RNA path of a pose bone's rotation channel for a Blender rotation mode."""
    prop = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
    return f'pose.bones["{bone}"].{prop}'


def location_data_path(bone: str) -> str:
    return f'pose.bones["{bone}"].location'


def scale_data_path(bone: str) -> str:
    return f'pose.bones["{bone}"].scale'


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
    """All F-curves of one imported motion: the root's and the pelvis' locations (3 + 3) + every joint bone's
    quaternion (4 J)."""
    root, pelvis = body_mesh.ROOT_BONE, names[0]
    curves = [FCurveKeys(location_data_path(root), i, root, interleave(keys.frames, keys.location[:, i]))
              for i in range(3)]  # fmt: skip
    curves += [FCurveKeys(location_data_path(pelvis), i, pelvis, interleave(keys.frames, keys.pelvis_location[:, i]))
               for i in range(3)]  # fmt: skip
    for j, name in enumerate(names):
        path = rotation_data_path(name)
        curves.extend(FCurveKeys(path, i, name, interleave(keys.frames, keys.quaternions[:, j, i])) for i in range(4))
    return curves
