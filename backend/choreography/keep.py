"""Regenerate a selection: keep the animator's locked keys exactly and blend the new dance into them.

A :class:`shared.keep.KeepSpec` carries the :class:`shared.keep.KeepMask` of kept cells (frames x
joint rotations + root translation). Kept values are copied unchanged. Every free stretch of a channel is the freshly planned dance plus an offset
that, at each kept neighbour, equals the kept value *and* the kept motion's velocity there, then fades to
zero (smoothstep, half a second): the seam has no position jump and no velocity pop.
"""

from __future__ import annotations

import numpy as np

from shared.keep import KeepSpec, fit_length
from shared.motion import Motion
from shared.rotations import (
    axis_angle_to_quaternion,
    quaternion_multiply,
    quaternion_to_axis_angle,
)

#: Frames over which the new dance fades into a kept key (0.5 s at 30 fps).
FADE_FRAMES = 15


def _log(q: np.ndarray) -> np.ndarray:
    return quaternion_to_axis_angle(q)


def _exp(v: np.ndarray) -> np.ndarray:
    return axis_angle_to_quaternion(v)


def _inverse(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _offsets(
    new: np.ndarray, old: np.ndarray, kept: np.ndarray, difference, velocity
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per free run, the (frames, offsets) fading from each kept neighbour. Works on vectors or quaternions
    through ``difference(a, b)`` (a ⊖ b as a vector) and ``velocity(x, i, j)`` (x[j] ⊖ x[i])."""
    out = []
    num_frames = len(kept)
    padded = np.concatenate([[True], kept, [True]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(padded) == -1)
    ends = np.flatnonzero(np.diff(padded) == 1)
    for a, b in zip(starts, ends):  # free frames a … b-1
        length = b - a
        for anchor, direction, limit in ((a - 1, 1, length + 1), (b, -1, length + 1)):
            if not 0 <= anchor < num_frames:
                continue
            fade = min(FADE_FRAMES, limit)
            steps = np.arange(1, fade)
            frames = anchor + direction * steps
            inside = (frames >= a) & (frames < b)
            frames, steps = frames[inside], steps[inside]
            if len(frames) == 0:
                continue
            neighbour = anchor + direction
            d0 = difference(old[anchor], new[anchor])
            # Velocity the kept motion had across the seam, minus the new dance's.
            v = velocity(old, anchor, neighbour) - velocity(new, anchor, neighbour)
            s = steps / fade
            weight = 1.0 - (3 * s**2 - 2 * s**3)
            out.append((frames, (d0[None] + v[None] * steps[:, None]) * weight[:, None]))
    return out


def blend_vectors(new: np.ndarray, old: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(T, 3) channel: ``old`` on kept frames, ``new`` blended into it elsewhere."""
    out = np.where(kept[:, None], old, new).astype(np.float64)
    for frames, offset in _offsets(new, old, kept, lambda a, b: a - b, lambda x, i, j: x[j] - x[i]):
        out[frames] += offset
    return out


def blend_rotations(new: np.ndarray, old: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(T, 3) axis-angle channel: ``old`` on kept frames, ``new`` rotated into it elsewhere."""
    qn, qo = _exp(new), _exp(old)
    out = np.where(kept[:, None], qo, qn)
    difference = lambda a, b: _log(quaternion_multiply(a, _inverse(b)))  # noqa: E731
    velocity = lambda x, i, j: _log(quaternion_multiply(x[j], _inverse(x[i])))  # noqa: E731
    for frames, offset in _offsets(qn, qo, kept, difference, velocity):
        out[frames] = quaternion_multiply(_exp(offset), out[frames])
    return _log(out)


def apply_keep(new: Motion, keep: KeepSpec) -> Motion:
    """Merge a freshly planned dance with the kept cells of ``keep.motion`` (a ``shared.keep.KeepSpec``):
    each joint's rotation channel and the translation are blended into their kept cells, which end exact."""
    old, mask = keep.motion, keep.mask
    new = fit_length(new, old.num_frames, what="the regenerated dance")
    poses = np.stack([blend_rotations(new.poses[:, j], old.poses[:, j], mask.joints[:, j]) for j in range(24)], axis=1)
    trans = blend_vectors(new.trans, old.trans, mask.translation)
    blended = Motion(poses=poses.astype(np.float32), trans=trans.astype(np.float32), fps=old.fps, betas=old.betas,
                     gender=old.gender, contacts=new.contacts,
                     metadata={**new.metadata, "regenerated_frames": int((~mask.frames_fully_kept).sum())})
    return mask.merge(old, blended)  # kept cells bit-exact, not through quaternions

