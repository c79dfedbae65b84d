"""What is kept when part of a dance is regenerated: the one definition, used on both sides of the wire.

A :class:`KeepMask` is a cell mask over frames x (the 24 SMPL joint rotations + the root translation):
``cells[t, j]`` True keeps joint j's rotation on frame t exactly (j = 0 is the root *orientation*, the
pelvis), ``cells[t, ROOT_TRANSLATION]`` keeps the translation. Every other cell is generated anew. The add-on
builds it from the animator's selection, ``shared.protocol.KeepSpec`` carries it, the Motion Expert pins the
kept cells while it denoises (inpainting), the choreographer blends its new dance into them, and
:meth:`KeepMask.merge` is the exact paste all of them end with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidInputError
from .motion import Motion
from .skeleton import NUM_JOINTS

#: Column of the root translation (after the 24 joint rotations).
ROOT_TRANSLATION = NUM_JOINTS
NUM_COLUMNS = NUM_JOINTS + 1


@dataclass(frozen=True)
class KeepMask:
    """cells: (T, 25) bool, True = kept (see the module docstring)."""

    cells: np.ndarray

    def __post_init__(self) -> None:
        cells = np.asarray(self.cells)
        if cells.dtype != np.bool_ or cells.ndim != 2 or cells.shape[1] != NUM_COLUMNS:
            raise InvalidInputError(
                f"a keep mask must be a (frames, {NUM_COLUMNS}) bool array, got {cells.dtype} {cells.shape}",
                hint="build it with KeepMask.regenerate(...)")
        object.__setattr__(self, "cells", cells.copy())

    @classmethod
    def regenerate(cls, num_frames: int, frames=None, joints=None, translation: bool | None = None) -> "KeepMask":
        """Keep everything except the selected frames x joints.

        Args:
            frames: (T,) bool, frames to regenerate (None: all).
            joints: (24,) bool, joints whose rotation is regenerated on those frames (None: all).
            translation: regenerate the root translation on those frames too (None: only when the whole body
                is regenerated, i.e. ``joints`` is None).
        """
        frames = np.ones(num_frames, bool) if frames is None else np.asarray(frames, bool)
        columns = np.zeros(NUM_COLUMNS, bool)
        columns[:NUM_JOINTS] = True if joints is None else np.asarray(joints, bool)
        columns[ROOT_TRANSLATION] = joints is None if translation is None else bool(translation)
        if frames.shape != (num_frames,) or columns[:NUM_JOINTS].shape != (NUM_JOINTS,):
            raise InvalidInputError(f"frame selection must have shape ({num_frames},) and joint selection ({NUM_JOINTS},)")
        return cls(~(frames[:, None] & columns[None, :]))

    @property
    def num_frames(self) -> int:
        return len(self.cells)

    @property
    def joints(self) -> np.ndarray:
        """(T, 24) bool: joint rotations kept."""
        return self.cells[:, :NUM_JOINTS]

    @property
    def translation(self) -> np.ndarray:
        """(T,) bool: root translation kept."""
        return self.cells[:, ROOT_TRANSLATION]

    @property
    def frames_fully_kept(self) -> np.ndarray:
        """(T,) bool: frames on which nothing is regenerated."""
        return self.cells.all(axis=1)

    def resample(self, num_frames: int, fps_from: float, fps_to: float) -> "KeepMask":
        """The mask at another frame rate: each new frame takes the nearest old frame's cells."""
        source = np.minimum(np.round(np.arange(num_frames) * fps_from / fps_to).astype(int), self.num_frames - 1)
        return KeepMask(self.cells[source])

    def merge(self, kept: Motion, new: Motion) -> Motion:
        """``new`` with every kept cell copied bit-exactly from ``kept`` (same frame count). Shape (betas,
        gender) and fps come from ``kept``; contacts from ``kept`` on fully kept frames, else from ``new``."""
        if kept.num_frames != self.num_frames or new.num_frames != self.num_frames:
            raise InvalidInputError(
                f"cannot merge motions of {kept.num_frames} and {new.num_frames} frames with a "
                f"{self.num_frames}-frame keep mask", hint="regenerate the same span as the motion being edited")
        poses = np.where(self.joints[:, :, None], kept.poses, new.poses).astype(np.float32)
        trans = np.where(self.translation[:, None], kept.trans, new.trans).astype(np.float32)
        contacts = new.contacts
        if contacts is not None and kept.contacts is not None:
            contacts = np.where(self.frames_fully_kept[:, None], kept.contacts, contacts)
        return Motion(poses=poses, trans=trans, fps=kept.fps, betas=kept.betas, gender=kept.gender,
                      contacts=contacts, metadata=dict(new.metadata))
