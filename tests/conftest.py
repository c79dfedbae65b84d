"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MACE_SHARED_DATA", REPO.parent / "shared" / "data"))  # CI: beside the clone


#: Folders and files whose tests share an expensive session- or package-scoped fixture or warm-up, so that
#: with pytest-xdist (``--dist loadgroup``, as scripts/test.sh runs the suite) one worker runs them all and
#: pays it once: the Ray cluster of tests/cluster; the analysed real tracks, click tracks and dances of many
#: seeds that the choreography and music tests share, and librosa's import with its kernels loaded from
#: numba's cache (once per process); diffusers' import (~1.5 s; the Motion Expert's default sampler is diffusers' too); the pose
#: model's first load; bpy's import and the add-on's registration. Every other test file is a group of its
#: own (its module-scoped fixtures are paid once too).
SHARED_FIXTURE_GROUPS = {
    "tests/cluster/": "ray-cluster",
    "tests/backend/choreography/": "analysed-music",
    "tests/backend/features/test_music.py": "analysed-music",
    "tests/backend/test_cli_generate.py": "analysed-music",
    "tests/backend/motion_expert/test_motion_expert_generator.py": "analysed-music",  # these analyse music too
    "tests/backend/evaluation/test_eval_cli.py": "analysed-music",
    "tests/server/test_server_music_formats.py": "analysed-music",
    "tests/test_examples.py": "analysed-music",
    "tests/backend/appearance/test_wan_": "diffusers",
    "tests/backend/motion_expert/": "diffusers",
    "tests/backend/test_weights.py": "diffusers",
    "tests/backend/appearance/test_perception.py": "pose-model",
    "tests/backend/appearance/test_photo_frame.py": "pose-model",
    "tests/backend/appearance/test_puppet.py": "pose-model",
    "tests/backend/appearance/test_body25d.py": "pose-model",
    "tests/backend/appearance/test_render_cli.py": "pose-model",
    "tests/blender_addon/": "blender",
}


def _xdist_group(relative: str) -> str:
    for prefix, group in SHARED_FIXTURE_GROUPS.items():
        if relative.startswith(prefix):
            return group
    return relative


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: without it (-p no:xdist, the bpy venvs) unused
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` by the groups above, read from each test's file path. (pytest-xdist's own
    loadgroup reads an ``xdist_group`` mark back from a suffix it writes into the node id, which pytest 9.2
    no longer lets it change: every test then became a group of its own, pytest-dev/pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _xdist_group(nodeid.split("::", 1)[0])

    return FileGroupScheduling(config, log)


@pytest.hookimpl(trylast=True)  # after ``-m``/``-k`` deselected what will not run
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` (above): hand out the groups with the most slow tests first, then the shared
    groups above (the longest of the fast tier), then the largest files, so that the small ones come last and
    fill the workers evenly instead of a long group starting while the other workers run out of work."""
    if not getattr(config.option, "loadgroup", False):
        return
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(_xdist_group(Path(item.path).relative_to(REPO).as_posix()), []).append(item)
    shared = set(SHARED_FIXTURE_GROUPS.values())
    order = sorted(groups.items(), key=lambda group: (
        -sum(member.get_closest_marker("slow") is not None for member in group[1]), group[0] not in shared,
        -len(group[1])))
    items[:] = [item for _, members in order for item in members]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real music and motion capture that lie beside the repository (CI has them); skip without."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


class _AnalysedTracks(dict):
    """``tracks[name]``: MusicFeatures of the first ``REAL_TRACK_SECONDS`` of ``shared/data/music/<name>``,
    analysed on first use and then shared by every test of the session."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str):
        from backend.features import analyze_music

        self[name] = analyze_music(self.folder / name, duration_s=REAL_TRACK_SECONDS)
        return self[name]


#: How much of each real track the shared analyses cover (seconds).
REAL_TRACK_SECONDS = 45.0


@pytest.fixture(scope="session")
def real_tracks(shared_data) -> _AnalysedTracks:
    """The real music, each track analysed once per session (``real_tracks["drascula-track18.ogg"]``):
    analysing a track takes seconds, and the choreographer, limiter and feature tests all need them."""
    return _AnalysedTracks(shared_data / "music")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


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


@pytest.fixture
def prefs(bpy, addon):
    """The add-on preferences, restored after the test."""
    from blender_addon import preferences

    prefs = preferences.get(bpy.context)
    names = ("address", "start_local", "timeout_s", "backend_command", "backend_python", "startup_timeout_s",
             "smpl_model_path")
    saved = {name: getattr(prefs, name) for name in names}
    yield prefs
    for name, value in saved.items():
        setattr(prefs, name, value)
