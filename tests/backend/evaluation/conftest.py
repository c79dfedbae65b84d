"""Synthetic dancers with known properties for the evaluation tests."""

from __future__ import annotations

import numpy as np

from shared.skeleton import LEFT_ANKLE, LEFT_FOOT, RIGHT_ANKLE, RIGHT_FOOT, Skeleton

FPS = 30.0
FEET = [LEFT_ANKLE, RIGHT_ANKLE, LEFT_FOOT, RIGHT_FOOT]


def standing_pose() -> np.ndarray:
    """(24, 3) rest pose with the lowest toe on the floor (y = 0)."""
    rest = Skeleton.default().rest_positions().astype(np.float64)
    rest[:, 1] -= rest[[LEFT_FOOT, RIGHT_FOOT], 1].min()
    return rest


def still(frames: int) -> np.ndarray:
    """(T, 24, 3) a dancer standing still."""
    return np.repeat(standing_pose()[None], frames, axis=0)


def beat_dancer(frames: int, beat_period_s: float, phase_s: float = 0.0, amplitude: float = 0.25) -> np.ndarray:
    """A dancer whose whole upper body bobs so that its speed is zero exactly at t = phase + k·period.

    Upper-body height offset a·cos(π (t - phase) / period): velocity ∝ sin(π (t - phase) / period), which
    vanishes at every beat; the feet stay planted.
    """
    joints = still(frames)
    t = np.arange(frames) / FPS
    offset = amplitude * np.cos(np.pi * (t - phase_s) / beat_period_s)
    upper = [j for j in range(24) if j not in FEET + [4, 5]]  # everything above the knees
    joints[:, upper, 1] += offset[:, None]
    joints[:, upper, 0] += 0.5 * offset[:, None]
    return joints


def varied_dancer(rng: np.random.Generator, frames: int = 120) -> np.ndarray:
    """A dancer with random smooth limb motion, random speed and amplitude (for set statistics)."""
    joints = still(frames)
    t = np.arange(frames) / FPS
    for joint in range(24):
        for axis in range(3):
            freq = rng.uniform(0.3, 3.0)
            amp = rng.uniform(0.0, 0.3) * rng.uniform(0.2, 1.0)
            joints[:, joint, axis] += amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    joints[:, :, 0] += rng.uniform(-0.5, 0.5) * t[:, None]  # some travel
    return joints


def bouncing_root(frames: int, feet_slide_m_per_frame: float = 0.0) -> np.ndarray:
    """Root (and upper body) bouncing up and down; feet planted, or sliding along x while on the floor."""
    joints = still(frames)
    t = np.arange(frames) / FPS
    bounce = 0.03 * np.sin(2 * np.pi * 2.0 * t)
    non_feet = [j for j in range(24) if j not in FEET]
    joints[:, non_feet, 1] += bounce[:, None]
    joints[:, FEET, 0] += feet_slide_m_per_frame * np.arange(frames)[:, None] * np.array([1, -1, 1, -1])
    return joints
