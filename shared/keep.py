"""What is kept when part of a dance is regenerated: the one definition, used on both sides of the wire.

A :class:`KeepMask` is a cell mask over frames x (the 24 SMPL joint rotations + the root translation):
``cells[t, j]`` True keeps joint j's rotation on frame t exactly (j = 0 is the root *orientation*, the
pelvis), ``cells[t, ROOT_TRANSLATION]`` keeps the translation. Every other cell is generated anew. The add-on
builds it from the animator's selection, :class:`KeepSpec` carries it (with the motion being edited), the
Motion Expert pins the kept cells while it denoises (inpainting), the choreographer blends its new dance into
them, and :meth:`KeepMask.merge` is the exact paste all of them end with.

The rules on *which span* is regenerated live here too, so the server, the choreographer and the Motion Expert
agree: :func:`regenerated_span` (the music a regeneration dances to, checked against the music there is) and
:func:`fit_length` (music and motion frames may differ by rounding, up to ``FIT_TOLERANCE_FRAMES``; more is an
error, never a silent pad).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .errors import InvalidInputError
from .motion import Motion
from .protocol import MAX_FRAMES, decode_array, encode_array, get_field, motion_from_wire, motion_to_wire
from .skeleton import NUM_JOINTS

#: Column of the root translation (after the 24 joint rotations).
ROOT_TRANSLATION = NUM_JOINTS
NUM_COLUMNS = NUM_JOINTS + 1

#: Frames by which two spans of the same music may differ through rounding (analysis vs motion frame rates);
#: :func:`fit_length` pads or trims within it and raises past it.
FIT_TOLERANCE_FRAMES = 2


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


@dataclass
class KeepSpec:
    """What to keep when regenerating: ``mask`` (a :class:`KeepMask`, frames x joints + root translation) marks
    the cells of ``motion`` kept exactly; every other cell is generated anew (inpainting).
    On the wire: ``{"motion": motion, "cells": array (T, 25) bool}``."""

    motion: Motion
    mask: KeepMask

    def __post_init__(self) -> None:
        if not isinstance(self.motion, Motion):
            raise InvalidInputError(f"KeepSpec.motion must be a Motion, got {type(self.motion).__name__}", None)
        if not isinstance(self.mask, KeepMask):
            raise InvalidInputError(f"KeepSpec.mask must be a KeepMask, got {type(self.mask).__name__}", None)
        if self.mask.num_frames != self.motion.num_frames:
            raise InvalidInputError(f"`keep.cells` must have shape ({self.motion.num_frames}, {NUM_COLUMNS}) "
                                    f"(one row per frame), got {self.mask.cells.shape}", None)

    def at_fps(self, fps: float) -> "KeepSpec":
        """This spec with its motion and cell mask resampled to ``fps`` (nearest frame for the mask)."""
        if abs(self.motion.fps - fps) < 1e-6:
            return self
        motion = self.motion.resample(fps)
        return KeepSpec(motion=motion, mask=self.mask.resample(motion.num_frames, self.motion.fps, fps))

    def to_wire(self) -> dict:
        return {"motion": motion_to_wire(self.motion), "cells": encode_array(self.mask.cells)}

    @classmethod
    def from_wire(cls, obj: Any, field: str = "keep", *, max_frames: int = MAX_FRAMES) -> "KeepSpec":
        if not isinstance(obj, dict):
            raise InvalidInputError(f"`{field}` must be a map, got {type(obj).__name__}", None)
        motion = motion_from_wire(get_field(obj, "motion", dict), f"{field}.motion", max_frames=max_frames)
        cells = decode_array(get_field(obj, "cells", dict), f"{field}.cells")
        if cells.dtype != np.bool_ or cells.shape != (motion.num_frames, NUM_COLUMNS):
            raise InvalidInputError(f"`{field}.cells` must be a ({motion.num_frames}, {NUM_COLUMNS}) bool array, "
                                    f"got {cells.dtype} {cells.shape}", None)
        return cls(motion=motion, mask=KeepMask(cells))


def regenerated_span(keep: KeepSpec | None, duration_s: float | None, available_s: float | None = None,
                     music: str = "the music") -> float | None:
    """Seconds of music a dance is made for (None = to the end of the music).

    Without ``keep`` that is ``duration_s``. Regenerating part of a motion dances to exactly the span being
    edited: ``duration_s`` defaults to the kept motion's duration and may differ from it only by rounding
    (``FIT_TOLERANCE_FRAMES``). With ``available_s`` (seconds of ``music`` after the start), a kept motion
    longer than the music is refused here, before any work.
    """
    if keep is None:
        return duration_s
    kept, slack = keep.motion, FIT_TOLERANCE_FRAMES / keep.motion.fps
    if duration_s is None:
        duration_s = kept.duration
    elif abs(duration_s - kept.duration) > slack:
        raise InvalidInputError(
            f"`duration_s` = {duration_s:.2f} s but the motion to edit (`keep.motion`) lasts {kept.duration:.2f} s",
            "leave duration_s out when regenerating part of a motion (it is the kept motion's duration)")
    if available_s is not None and duration_s - available_s > 0.5 / kept.fps:
        raise InvalidInputError(f"`keep.motion` lasts {duration_s:.2f} s but {music} has only {available_s:.2f} s "
                                "after start_s", "start earlier in the music or keep a shorter motion")
    return duration_s


Fitted = TypeVar("Fitted", np.ndarray, Motion)


def fit_length(values: Fitted, num_frames: int, what: str = "the music span") -> Fitted:
    """``values`` (an array over frames, or a Motion) trimmed, or padded by holding its last frame, to
    ``num_frames``. Spans of the same music differ by rounding only: a mismatch above
    ``FIT_TOLERANCE_FRAMES`` is an error, never a silent pad."""
    have = values.num_frames if isinstance(values, Motion) else len(values)
    if abs(have - num_frames) > FIT_TOLERANCE_FRAMES:
        raise InvalidInputError(
            f"{what} has {have} frames but the motion to edit {num_frames}",
            "the music is shorter than the motion being edited; pick a shorter span or start earlier")
    if isinstance(values, Motion):
        if have >= num_frames:
            return values.slice(0, num_frames)
        return Motion(poses=_fit(values.poses, num_frames), trans=_fit(values.trans, num_frames), fps=values.fps,
                      betas=values.betas, gender=values.gender, metadata=dict(values.metadata),
                      contacts=None if values.contacts is None else _fit(values.contacts, num_frames))
    return _fit(values, num_frames)


def _fit(array: np.ndarray, num_frames: int) -> np.ndarray:
    if len(array) >= num_frames:
        return array[:num_frames]
    return np.concatenate([array, np.repeat(array[-1:], num_frames - len(array), axis=0)])
