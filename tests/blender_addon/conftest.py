"""Fixtures for the add-on tests (``bpy``, ``addon`` and ``scene`` live in tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest


def _random_motion(num_frames: int = 60, fps: float = 30.0, seed: int = 0):
    """A motion with random rotations (up to ~2 rad per joint) and translations, for round trips."""
    from shared.motion import Motion

    rng = np.random.default_rng(seed)
    poses = rng.uniform(-1.2, 1.2, size=(num_frames, 24, 3)).astype(np.float32)
    trans = rng.normal(0.0, 0.5, size=(num_frames, 3)).astype(np.float32)
    return Motion(poses=poses, trans=trans, fps=fps, betas=rng.normal(size=10).astype(np.float32))


def _rotation_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest angle (rad) between corresponding axis-angle rotations of two (..., 3) arrays."""
    from shared.rotations import axis_angle_to_matrix

    relative = np.swapaxes(axis_angle_to_matrix(a), -1, -2) @ axis_angle_to_matrix(b)
    cos = np.clip((np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.arccos(cos).max())


@pytest.fixture
def random_motion():
    return _random_motion


@pytest.fixture
def rotation_error():
    return _rotation_error
