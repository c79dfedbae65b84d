"""Physical plausibility of the feet: EDGE's Physical Foot Contact score and Lodge's foot-skating ratio.

Both take (T, 24, 3) joint positions in metres, Y-up, sampled at the protocol rate (30 fps in EDGE and
Lodge, where the thresholds below are per-frame distances).
"""

from __future__ import annotations

import numpy as np

from shared.skeleton import LEFT_ANKLE, LEFT_FOOT, PELVIS, RIGHT_ANKLE, RIGHT_FOOT

from .protocol import EvalProtocol

UP = 1
HORIZONTAL = (0, 2)
#: EDGE multiplies the mean PFC by this to get readable numbers (GT AIST++ ≈ 1.33).
PFC_SCALE = 10_000.0
#: Lodge foot-contact thresholds above the ground, metres.
ANKLE_CONTACT_HEIGHT = 0.08
TOE_CONTACT_HEIGHT = 0.05
#: Lodge sliding threshold, metres per frame (at 30 fps: 0.3 m/s).
SLIDE_PER_FRAME = 0.01
#: Lodge puts both toes on the ground when their frame-0 heights differ by less than this (metres).
LODGE_LEVEL_TOES = 0.02


def physical_foot_contact(joints: np.ndarray, fps: float) -> float:
    """EDGE PFC of one motion, *before* the ×10⁴ scale (EDGE ``eval/eval_pfc.py``).

    Root acceleration a = second difference of the pelvis ÷ dt², its vertical part clamped to >= 0 (the
    body may fall freely, not be pushed up without support), |a| divided by its maximum over the sequence.
    Foot speed = horizontal per-frame displacement of each foot joint (not divided by dt). Per frame
    min(left ankle, left toe) × min(right ankle, right toe) × normalised |a|, averaged over frames: high when
    the body accelerates while *both* feet slide. A root that never accelerates scores 0.

    Args:
        joints: (T, 24, 3), T >= 3.
        fps: frame rate (dt = 1 / fps).
    """
    joints = np.asarray(joints, dtype=np.float64)
    dt = 1.0 / fps
    root_velocity = (joints[1:, PELVIS] - joints[:-1, PELVIS]) / dt
    root_acceleration = (root_velocity[1:] - root_velocity[:-1]) / dt  # (T-2, 3)
    root_acceleration[:, UP] = np.maximum(root_acceleration[:, UP], 0.0)
    magnitude = np.linalg.norm(root_acceleration, axis=-1)
    peak = magnitude.max()
    if not peak > 0.0:
        return 0.0
    magnitude = magnitude / peak
    feet = joints[:, [LEFT_ANKLE, LEFT_FOOT, RIGHT_ANKLE, RIGHT_FOOT]][:, :, HORIZONTAL]
    foot_speed = np.linalg.norm(feet[2:] - feet[1:-1], axis=-1)  # (T-2, 4), EDGE's indexing
    left = np.minimum(foot_speed[:, 0], foot_speed[:, 1])
    right = np.minimum(foot_speed[:, 2], foot_speed[:, 3])
    return float(np.mean(left * right * magnitude))


def _ground_height(joints: np.ndarray, style: str) -> float:
    toes = joints[:, [LEFT_FOOT, RIGHT_FOOT], UP]
    if style == "lodge":  # Lodge ``set_on_ground_139``: from frame 0 only
        left, right = toes[0]
        return float((left + right) / 2.0) if abs(left - right) < LODGE_LEVEL_TOES else float(min(left, right))
    # Clean: the typical height of the lower toe; robust to a jump at frame 0 or a single glitch frame.
    return float(np.median(toes.min(axis=1)))


def foot_skating_ratio(joints: np.ndarray, protocol: EvalProtocol) -> tuple[float, float]:
    """Lodge's foot-skating ratio of one motion, per foot: sliding frames / contact frames.

    A foot is in contact when its ankle is within 0.08 m and its toe within 0.05 m of the ground; a contact
    frame slides when the ankle or the toe moves more than 0.01 m horizontally to the next frame.
    ``protocol.fsr_style`` "lodge" measures that movement as |mean(dx, dz)| (Lodge's code: the signed mean
    of the two horizontal components), "clean" as the length of (dx, dz).

    Args:
        joints: (T, 24, 3) at ``protocol.fps``.
    Returns:
        (left ratio, right ratio); NaN for a foot that never touches the ground.
    """
    joints = np.asarray(joints, dtype=np.float64)
    height = joints[:, :, UP] - _ground_height(joints, protocol.fsr_style)
    displacement = np.zeros((len(joints), 24, 2))
    displacement[:-1] = (joints[1:] - joints[:-1])[:, :, HORIZONTAL]  # last frame: 0, as in Lodge
    if protocol.fsr_style == "lodge":
        moved = np.abs(displacement.mean(axis=-1))
    else:
        moved = np.linalg.norm(displacement, axis=-1)
    ratios = []
    for ankle, toe in ((LEFT_ANKLE, LEFT_FOOT), (RIGHT_ANKLE, RIGHT_FOOT)):
        contact = (height[:, ankle] <= ANKLE_CONTACT_HEIGHT) & (height[:, toe] <= TOE_CONTACT_HEIGHT)
        sliding = contact & ((moved[:, ankle] > SLIDE_PER_FRAME) | (moved[:, toe] > SLIDE_PER_FRAME))
        ratios.append(float(sliding.sum() / contact.sum()) if contact.any() else float("nan"))
    return ratios[0], ratios[1]
