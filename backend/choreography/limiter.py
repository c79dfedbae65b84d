"""Speed limiter: no joint moves faster than real dancers' joints do.

Loud music makes the planner dance big; big moves on fast beats, turns and the groove layered on top can
drive a hand or a foot faster than people move (and a spike at a transition reads as a pop). After the dance
is posed, this pass measures every joint's speed against :data:`SPEED_LIMITS` and

1. shrinks the amplitude of a move whose peak is far over the limit (the move is danced smaller), then
2. **retimes** inside each beat: frames that are too fast get more time, the calmer frames of the same beat
   give it back, so every beat still starts on its beat (the hits stay on the music) and planted feet,
   which do not move, stay planted.

Both steps re-render the planned dance (the curves are analytic in beat position), so nothing is filtered
or clipped after the fact and the motion stays C¹. With a ``synthesis.Renderer`` as ``render`` a pass costs
only the spans it changed: the curves are evaluated again, the rig and forward kinematics run again only on
the frames whose pose parameters moved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np


from .synthesis import Placement

#: Per SMPL joint, m/s: the 99.9th percentile of joint speed over the real motion capture this project
#: measures against (boxing with footwork, CMU jumps and turns, DeepMimic dances, spin and walk, pooled;
#: ``benchmarks/choreographer.py`` prints it), the smaller of each left/right pair, and never above the
#: 99.9th percentile of all joints together (7.90 m/s; the hands alone reach 8.92).
SPEED_LIMITS = np.array([
    2.68,  # pelvis
    2.78, 2.78,  # hips
    2.60,  # spine1
    3.90, 3.90,  # knees
    2.51,  # spine2
    6.65, 6.65,  # ankles
    2.48,  # spine3
    7.10, 7.10,  # feet (toes)
    2.44,  # neck
    2.47, 2.47,  # collars
    2.83,  # head
    3.22, 3.22,  # shoulders
    6.22, 6.22,  # elbows
    7.90, 7.90,  # wrists
    7.90, 7.90,  # hands
])  # fmt: skip
#: A move whose peak is more than this over the limit is first danced smaller (retiming absorbs the rest).
AMPLITUDE_SLACK = 1.15
#: Never shrink a move below this share of its planned amplitude.
MIN_AMPLITUDE_SHARE = 0.5
#: The share of the limit retiming aims at (a margin: giving time back to calm frames speeds them up a little).
RETIME_TARGET = 0.9
#: What the limiter tries, in order, until no joint is over its limit (each step re-renders the dance once):
#: moves far over the limit are danced smaller, retiming spreads the rest, and moves still over are shrunk.
SCHEDULE = ("shrink_far", "retime", "retime", "shrink", "retime", "retime")

Rendered = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def speed_ratio(joints: np.ndarray, fps: float, limits: np.ndarray = SPEED_LIMITS) -> np.ndarray:
    """(T, J, 3) positions → (T-1,) the largest joint speed / limit between consecutive frames."""
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * fps
    return (speed / limits[: joints.shape[1]]).max(axis=1)


def retime(beat_positions: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """New beat positions for the same frame times: within each beat, frames faster than the limit
    (``ratio`` > 1) advance more slowly and the other frames of that beat make up the time, as far as they
    can without going over the limit themselves.

    Args:
        beat_positions: (T,) increasing grid position of each frame.
        ratio: (T-1,) speed / limit between consecutive frames.
    Returns:
        (T,) increasing positions; each beat's total advance, hence every beat's frame, is unchanged, and the
        frames of beats without a frame over the limit keep their positions exactly.
    """
    advance = np.diff(beat_positions)
    ratio = np.maximum(ratio, 1e-6)
    positions = np.array(beat_positions, dtype=np.float64)  # frames of beats left alone stay bit-identical
    beat = np.floor(beat_positions[:-1] + 1e-9).astype(np.int64)
    for b in np.unique(beat[ratio > 1.0]):
        idx = np.flatnonzero(beat == b)
        a, r, total = advance[idx], ratio[idx], advance[idx].sum()
        # Water filling: a' = a · min(1/r, λ) with λ ≥ 1 chosen so that the beat keeps its length. When
        # even every frame at its limit cannot fill the beat, all frames share the excess equally.
        if (a / r).sum() <= total:
            scaled = a / r
        else:
            lo, hi = 1.0, 2.0
            while (a * np.minimum(1.0 / r, hi)).sum() < total:
                hi *= 2.0
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if (a * np.minimum(1.0 / r, mid)).sum() < total else (lo, mid)
            scaled = a * np.minimum(1.0 / r, hi)
        # The beat's inner frames move; its first frame and the next beat's first frame stay put.
        positions[idx[1:]] = beat_positions[idx[0]] + np.cumsum(scaled * total / scaled.sum())[:-1]
    return positions


def render_within_limits(
    placements: list[Placement],
    beat_positions: np.ndarray,
    render: Callable[[list[Placement], np.ndarray], Rendered],
    fps: float,
    limits: np.ndarray = SPEED_LIMITS,
) -> tuple[Rendered, list[Placement], np.ndarray]:
    """Render the dance with no joint faster than ``limits``.

    Args:
        placements: the planned moves.
        beat_positions: (T,) grid position of each frame.
        render: ``(placements, beat_positions) -> (poses, trans, contacts, joints)`` (a
            ``synthesis.Renderer``, or ``synthesis.render`` with its rig; the joints are where speeds are
            measured).
        fps: frame rate.
    Returns:
        (the rendered dance, the placements with their final amplitudes, the final beat positions).
    """
    def ratio_of(result: Rendered) -> np.ndarray:
        return speed_ratio(result[3], fps, limits)

    positions = beat_positions
    rendered = render(placements, positions)
    ratio = ratio_of(rendered)
    for step in SCHEDULE:
        if ratio.max() <= 1.0:
            break
        if step == "retime":
            positions = retime(positions, ratio / RETIME_TARGET)
        else:
            shrunk = _shrink(placements, positions, ratio, slack=AMPLITUDE_SLACK if step == "shrink_far" else 1.0)
            if shrunk is None:
                continue
            placements = shrunk
        rendered = render(placements, positions)
        ratio = ratio_of(rendered)
    return rendered, placements, positions


def _shrink(placements: list[Placement], positions: np.ndarray, ratio: np.ndarray, slack: float):
    """Placements whose peak speed ratio exceeds ``slack`` danced smaller (None when none does)."""
    starts = np.array([p.start_beat for p in placements])
    owner = np.clip(np.searchsorted(starts, positions[:-1], side="right") - 1, 0, len(placements) - 1)
    peak = np.zeros(len(placements))
    np.maximum.at(peak, owner, ratio)
    if not (peak > slack).any():
        return None
    share = np.clip(slack / np.maximum(peak, 1e-9), MIN_AMPLITUDE_SHARE, 1.0)
    return [replace(p, amplitude=p.amplitude * s) if s < 1.0 else p for p, s in zip(placements, share)]
