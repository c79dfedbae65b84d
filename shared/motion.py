"""The SMPL motion model both sides agree on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import MotionFormatError
from .kinematics import forward_kinematics
from .rotations import (
    axis_angle_to_quaternion,
    quaternion_slerp,
    quaternion_to_axis_angle,
)
from .skeleton import NUM_JOINTS, Skeleton

GENDERS = ("neutral", "male", "female")
MAX_BETAS = 10
MAX_FPS = 1000.0


def _float_array(name: str, value: Any, shape_desc: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and other junk
        raise MotionFormatError(name, f"cannot be read as an array ({exc})") from exc
    if array.dtype.kind not in "fiu" or array.dtype.kind == "c":
        raise MotionFormatError(name, f"must be a real number array {shape_desc}, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def _check_finite(name: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise MotionFormatError(
            name, f"contains NaN or Inf (first at index {tuple(int(i) for i in bad)})",
            hint="clean the motion (e.g. interpolate the broken frames) before using it",
        )


@dataclass
class Motion:
    """An SMPL body motion.

    Attributes:
        poses: (T, 24, 3) float32, axis-angle radians, each joint relative to its parent; joint 0 is the
            global root orientation in the Y-up world.
        trans: (T, 3) float32, metres, Y-up.
        fps: frames per second (> 0).
        betas: (B,) float32 shape coefficients, B <= 10.
        gender: "neutral", "male" or "female".
        contacts: optional (T, 4) float32 in [0, 1]: foot contacts of joints 7, 8, 10, 11 (EDGE order).
        metadata: small JSON-like dict (generator, seed, music name, …).
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(MAX_BETAS, dtype=np.float32))
    gender: str = "neutral"
    contacts: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        poses = _float_array("poses", self.poses, f"(T, {NUM_JOINTS}, 3)")
        if poses.ndim == 2 and poses.shape[1] == NUM_JOINTS * 3:
            poses = poses.reshape(len(poses), NUM_JOINTS, 3)
        if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3) or len(poses) == 0:
            raise MotionFormatError("poses", f"must have shape (T, {NUM_JOINTS}, 3) with T >= 1, got {poses.shape}")
        _check_finite("poses", poses)
        num_frames = len(poses)

        trans = _float_array("trans", self.trans, "(T, 3)")
        if trans.shape != (num_frames, 3):
            raise MotionFormatError("trans", f"must have shape ({num_frames}, 3) to match poses, got {trans.shape}")
        _check_finite("trans", trans)

        try:
            fps = float(self.fps)
        except (TypeError, ValueError) as exc:
            raise MotionFormatError("fps", f"must be a number, got {self.fps!r}") from exc
        if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise MotionFormatError("fps", f"must be in (0, {MAX_FPS:g}], got {fps}")

        betas = _float_array("betas", self.betas, f"(<= {MAX_BETAS},)").ravel()
        if len(betas) > MAX_BETAS:
            raise MotionFormatError("betas", f"at most {MAX_BETAS} shape coefficients are used, got {len(betas)}")
        _check_finite("betas", betas)

        gender = self.gender.decode() if isinstance(self.gender, bytes) else str(self.gender)
        if gender not in GENDERS:
            raise MotionFormatError("gender", f"must be one of {GENDERS}, got {gender!r}")

        contacts = self.contacts
        if contacts is not None:
            contacts = _float_array("contacts", contacts, "(T, 4)")
            if contacts.shape != (num_frames, 4):
                raise MotionFormatError("contacts", f"must have shape ({num_frames}, 4), got {contacts.shape}")
            _check_finite("contacts", contacts)

        if not isinstance(self.metadata, dict):
            raise MotionFormatError("metadata", f"must be a dict, got {type(self.metadata).__name__}")

        self.poses, self.trans, self.fps, self.betas = poses, trans, fps, betas
        self.gender, self.contacts = gender, contacts

    # -- basic facts ---------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return len(self.poses)

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (``num_frames / fps``)."""
        return self.num_frames / self.fps

    def joint_positions(self, skeleton: Skeleton | None = None) -> np.ndarray:
        """(T, 24, 3) float64 joint positions, metres, Y-up (FK on ``skeleton`` or the default one)."""
        return forward_kinematics(self.poses, self.trans, skeleton)

    # -- derived motions -------------------------------------------------------------------------------
    def copy(self) -> "Motion":
        return Motion(
            poses=self.poses.copy(), trans=self.trans.copy(), fps=self.fps, betas=self.betas.copy(),
            gender=self.gender, contacts=None if self.contacts is None else self.contacts.copy(),
            metadata=dict(self.metadata),
        )

    def slice(self, start: int, stop: int | None = None) -> "Motion":
        """Frames ``start:stop`` as a new motion."""
        window = slice(start, stop)
        if len(range(*window.indices(self.num_frames))) == 0:
            raise MotionFormatError("slice", f"frames {start}:{stop} of a {self.num_frames}-frame motion are empty")
        return Motion(
            poses=self.poses[window].copy(), trans=self.trans[window].copy(), fps=self.fps,
            betas=self.betas.copy(), gender=self.gender,
            contacts=None if self.contacts is None else self.contacts[window].copy(),
            metadata=dict(self.metadata),
        )

    def resample(self, fps: float) -> "Motion":
        """The same movement sampled at ``fps``: slerp for rotations, linear for translation, nearest for
        contacts. Covers the time span of the first to the last frame."""
        fps = float(fps)
        if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise MotionFormatError("fps", f"must be in (0, {MAX_FPS:g}], got {fps}")
        if abs(fps - self.fps) < 1e-9:
            return self.copy()
        span = (self.num_frames - 1) / self.fps
        count = int(math.floor(span * fps + 1e-6)) + 1
        source = np.arange(count) / fps * self.fps  # position in source frames
        lo = np.minimum(np.floor(source).astype(np.int64), self.num_frames - 1)
        hi = np.minimum(lo + 1, self.num_frames - 1)
        t = (source - lo)[:, None]

        quats = axis_angle_to_quaternion(self.poses)  # quaternion_slerp takes the shorter arc itself
        poses = quaternion_to_axis_angle(quaternion_slerp(quats[lo], quats[hi], np.broadcast_to(t, (count, NUM_JOINTS))))
        trans = self.trans[lo] * (1 - t) + self.trans[hi] * t
        contacts = None
        if self.contacts is not None:
            contacts = self.contacts[np.where(t[:, 0] < 0.5, lo, hi)]
        return Motion(poses=poses, trans=trans, fps=fps, betas=self.betas.copy(), gender=self.gender,
                      contacts=contacts, metadata=dict(self.metadata))

    def allclose(self, other: "Motion", rot_atol: float = 1e-5, trans_atol: float = 1e-5) -> bool:
        """Same frame count, fps and (up to tolerance) the same rotations and translations.

        Rotations are compared as matrices, so equivalent axis-angle vectors (θ vs θ − 2π) count as equal.
        """
        from .rotations import axis_angle_to_matrix

        if self.num_frames != other.num_frames or abs(self.fps - other.fps) > 1e-6:
            return False
        rot_err = np.abs(axis_angle_to_matrix(self.poses) - axis_angle_to_matrix(other.poses)).max()
        return bool(rot_err <= rot_atol and np.abs(self.trans - other.trans).max() <= trans_atol)


@dataclass
class MotionResult:
    """A generated dance and the music facts the add-on draws (beats as timeline markers).

    The backend's generators return it and :class:`shared.client.BackendClient` gives the same class back
    from a ``generate_motion`` job, so both sides of the wire speak of one thing.

    Attributes:
        motion: the dance.
        beats: (N,) float64 seconds from the start of the motion.
        tempo: beats per minute.
        generator: which generator made it ("choreographer", "motion_expert").
    """

    motion: Motion
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tempo: float = 0.0
    generator: str = ""
