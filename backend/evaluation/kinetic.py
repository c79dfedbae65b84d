"""Kinetic motion feature (AIST++/Bailando, 3 numbers per joint → 72-d for 24 joints).

Per joint, over frames i = 1 … T-1 (the fairmotion ``KineticFeatures`` definition used by FACT, Bailando,
Lodge and EDGE's evaluation):

* horizontal kinetic energy: mean of |v̄_h(i)|², v̄ = mean of the per-frame displacements in the window
  i-2 … i+2 (clipped to the sequence) divided by the frame time, h = the two horizontal axes (x, z; Y-up);
* vertical kinetic energy: the same with the vertical axis (y);
* energy expenditure: mean of |ā(i)|, ā = mean of the second differences over the same window ÷ dt².

The fairmotion/Bailando loops are vectorised here with cumulative sums; ``protocol.kinetic_acceleration_slip``
reproduces the operator-precedence slip of their acceleration helper, ``v1 = p[k] - p[k-1] / dt``
(only one position term divided by the frame time), which leaks absolute position into the feature.
"""

from __future__ import annotations

import numpy as np

from .protocol import EvalProtocol

VERTICAL_AXIS = 1  # SMPL Y-up
HORIZONTAL_AXES = (0, 2)


def windowed_mean(values: np.ndarray, half: int, centres: np.ndarray) -> np.ndarray:
    """Mean of ``values[c-half : c+half+1]`` (clipped to the array) for each centre.

    Args:
        values: (N, ...) samples.
        half: half width of the window in samples.
        centres: (M,) int indices, may lie outside 0 … N-1 (their windows are clipped).
    Returns:
        (M, ...) window means; a window holding no sample gives zeros.
    """
    cumulative = np.concatenate([np.zeros_like(values[:1]), np.cumsum(values, axis=0)], axis=0)
    lo = np.clip(centres - half, 0, len(values))
    hi = np.clip(centres + half + 1, 0, len(values))
    count = np.maximum(hi - lo, 1).reshape((-1,) + (1,) * (values.ndim - 1))
    return (cumulative[hi] - cumulative[lo]) / count


def kinetic_features(joints: np.ndarray, protocol: EvalProtocol) -> np.ndarray:
    """The kinetic feature of one motion.

    Args:
        joints: (T, J, 3) float, metres, Y-up, T >= 3 (already resampled/zero-started by the caller).
        protocol: supplies the frame time, the window and whether to reproduce the acceleration slip.
    Returns:
        (3 * J,) float64: per joint [horizontal KE, vertical KE, energy expenditure], joint-major.
    """
    positions = np.asarray(joints, dtype=np.float64)
    num_frames = len(positions)
    dt = protocol.kinetic_dt
    half = protocol.kinetic_window
    # Frames i = 1 … T-1 are the centres; displacement d[k-1] = p[k] - p[k-1] for k = 1 … T-1.
    centres = np.arange(num_frames - 1)
    displacement = positions[1:] - positions[:-1]  # (T-1, J, 3)
    mean_velocity = windowed_mean(displacement, half, centres) / dt  # (T-1, J, 3)
    horizontal = np.sum(mean_velocity[..., HORIZONTAL_AXES] ** 2, axis=-1).mean(axis=0)
    vertical = (mean_velocity[..., VERTICAL_AXIS] ** 2).mean(axis=0)

    # Second differences exist at k = 1 … T-2 (index k-1); centre i uses k in i-2 … i+2.
    if protocol.kinetic_acceleration_slip:
        v2 = (positions[2:] - positions[1:-1]) / dt
        v1 = positions[1:-1] - positions[:-2] / dt  # the slip, reproduced on purpose
        acceleration = (v2 - v1) / dt
    else:
        acceleration = (positions[2:] - 2.0 * positions[1:-1] + positions[:-2]) / dt**2
    mean_acceleration = windowed_mean(acceleration, half, centres)
    expenditure = np.linalg.norm(mean_acceleration, axis=-1).mean(axis=0)
    return np.stack([horizontal, vertical, expenditure], axis=-1).reshape(-1)


def windowed_kinetic_features(
    joints: np.ndarray, protocol: EvalProtocol, window_s: float = 4.0, hop_s: float = 2.0
) -> np.ndarray:
    """Kinetic features of overlapping windows of one motion (a distribution of how it moves over time,
    rather than one average over a whole take).

    Args:
        joints: (T, J, 3) positions at ``protocol.fps``.
        window_s, hop_s: window length and hop, seconds. A motion shorter than one window gives one window
            of its whole length.
    Returns:
        (N, 3 * J) float64, one row per window.
    """
    joints = np.asarray(joints, dtype=np.float64)
    window = max(int(round(window_s * protocol.fps)), 3)
    hop = max(int(round(hop_s * protocol.fps)), 1)
    if len(joints) <= window:
        return kinetic_features(joints, protocol)[None]
    starts = range(0, len(joints) - window + 1, hop)
    return np.stack([kinetic_features(joints[s : s + window], protocol) for s in starts])
