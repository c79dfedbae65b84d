"""Fixtures for the add-on tests: the bpy module (skip without it), the add-on enabled once, a clean scene."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def bpy():
    return pytest.importorskip("bpy", reason="the bpy module (pip install bpy==5.0.1) drives Blender in these tests")


@pytest.fixture(scope="session")
def addon(bpy):
    """The add-on enabled like a user would (so its preferences exist); disabled at the end."""
    import addon_utils

    module = addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    assert module is not None, "blender_addon failed to enable"
    yield module
    addon_utils.disable("blender_addon", default_set=True, handle_error=None)


@pytest.fixture
def scene(bpy, addon):
    """The current scene, emptied of objects, actions, markers and strips, at 30 fps."""
    from blender_addon import jobs

    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    for collection in (bpy.data.armatures, bpy.data.actions, bpy.data.meshes):
        for block in list(collection):
            collection.remove(block)
    scene = bpy.context.scene
    scene.timeline_markers.clear()
    if scene.sequence_editor is not None:
        scene.sequence_editor_clear()
    scene.render.fps, scene.render.fps_base = 30, 1.0
    scene.frame_start, scene.frame_end = 1, 250
    scene.use_preview_range = False
    status = bpy.context.window_manager.mace_dance_status
    status.busy, status.error, status.hint, status.message = False, "", "", ""
    yield scene
    jobs.SESSION.shutdown()


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
