"""The operators in background mode (``bpy.app.background``: the blocking path), with and without a backend.

In background mode an operator that reports an error makes ``bpy.ops`` raise RuntimeError with the report's
text, which is what a ``blender -b`` script sees.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.blender

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_MUSIC = REPO / "examples" / "music" / "groove_120bpm.ogg"
EXAMPLE_REFERENCE = REPO / "examples" / "reference.png"
# The backend may live in another environment than Blender's Python (as it does for animators): set this to
# run the add-on tests under another bpy version against the project's backend.
BACKEND_PYTHON = os.environ.get("MACE_DANCE_BACKEND_PYTHON") or sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def music(tmp_path) -> Path:
    path = tmp_path / "beat.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(22050)
        t = np.arange(22050 * 4) / 22050
        handle.writeframes((np.sin(2 * np.pi * 220 * t) * (t % 0.5 < 0.05) * 20000).astype(np.int16).tobytes())
    return path


def scene_fingerprint(bpy):
    scene = bpy.context.scene
    return (len(bpy.data.objects), len(bpy.data.actions), len(scene.timeline_markers), scene.render.fps,
            scene.frame_start, scene.frame_end)


def test_export_and_import_operators_round_trip_a_file(bpy, scene, random_motion, rotation_error, tmp_path):
    from blender_addon.bpy_glue import importer
    from shared.motion_io import load_motion

    motion = random_motion(45)
    obj = importer.import_motion(bpy.context, motion, name="take").armature
    bpy.context.view_layer.objects.active = obj
    path = tmp_path / "edited.npz"
    assert bpy.ops.mace.export_motion(filepath=str(path)) == {"FINISHED"}
    saved = load_motion(path)
    assert rotation_error(saved.poses, motion.poses) <= 1e-5 and np.abs(saved.trans - motion.trans).max() <= 1e-5

    assert bpy.ops.mace.import_motion(filepath=str(path)) == {"FINISHED"}
    from blender_addon.bpy_glue import takes

    assert takes.active_take(obj).action.name == "edited" and len(bpy.data.objects) == 2  # the rig and its body
    assert scene.mace_dance.dancer == obj  # the panel's Dancer field names the rig it works on
    obj.select_set(False)
    bpy.context.view_layer.objects.active = None
    scene.mace_dance.dancer = None
    assert bpy.ops.mace.import_motion(filepath=str(path)) == {"FINISHED"}
    assert scene.mace_dance.dancer == obj  # also when the import found the scene's only dancer by itself


def test_generate_without_music_names_the_fix(bpy, scene, prefs):
    scene.mace_dance.music_path = ""
    before = scene_fingerprint(bpy)
    with pytest.raises(RuntimeError, match="no music file chosen"):
        bpy.ops.mace.generate()
    status = bpy.context.window_manager.mace_dance_status
    assert status.error == "no music file chosen" and "music file" in status.hint
    assert scene_fingerprint(bpy) == before


def test_backend_down_is_reported_and_the_scene_unchanged(bpy, scene, prefs, music):
    from blender_addon import jobs

    prefs.address, prefs.start_local, prefs.timeout_s = f"tcp://127.0.0.1:{free_port()}", False, 0.5
    scene.mace_dance.music_path = str(music)
    before = scene_fingerprint(bpy)
    with pytest.raises(RuntimeError, match="mace-dance serve"):
        bpy.ops.mace.generate()
    status = bpy.context.window_manager.mace_dance_status
    assert status.error and not status.busy and status.backend == "not connected"
    assert scene_fingerprint(bpy) == before
    assert not jobs.SESSION.busy and not bpy.app.timers.is_registered(jobs.SESSION.timer)


def test_a_local_backend_that_dies_at_start_is_reported(bpy, scene, prefs, music):
    from blender_addon import jobs

    prefs.address, prefs.start_local, prefs.timeout_s = f"tcp://127.0.0.1:{free_port()}", True, 0.3
    prefs.backend_command = f'"{sys.executable}" -c "import sys; print(\'no weights here\'); sys.exit(3)"'
    scene.mace_dance.music_path = str(music)
    with pytest.raises(RuntimeError, match=r"exited \(code 3\)"):
        bpy.ops.mace.generate()
    error = bpy.context.window_manager.mace_dance_status.error
    assert error.startswith(f"no backend answered at {prefs.address}")  # what is wrong first, then the detail
    assert "no weights here" in error
    assert jobs.SESSION.local is None or not jobs.SESSION.local.running


def test_the_sampler_preference_reaches_the_generate_request(bpy, scene, prefs, music, monkeypatch):
    from blender_addon import preferences
    from blender_addon.operators import common
    from shared.sampling import SAMPLERS, SamplerChoice

    assert [item[0] for item in preferences.SAMPLER_ITEMS] == list(SAMPLERS)
    submitted, calls = [], []
    monkeypatch.setattr(common, "start_job", lambda op, context, kind, submit, finish: submitted.append(submit)
                        or {"FINISHED"})  # fmt: skip
    recorder = type("Recorder", (), {"submit_generate_motion": lambda self, *a, **kw: calls.append(kw)})()
    scene.mace_dance.music_path = str(music)
    for sampler, steps, expected in (("ddim", 7, SamplerChoice("ddim", 7)), ("dpmpp", 0, SamplerChoice("dpmpp"))):
        prefs.motion_sampler, prefs.motion_steps = sampler, steps
        assert bpy.ops.mace.generate() == {"FINISHED"}
        submitted[-1](recorder)
        assert calls[-1]["sampling"] == expected


# ---- against a real backend ---------------------------------------------------------------------------

needs_serve = pytest.mark.skipif(importlib.util.find_spec("backend.cli.serve") is None,
                                 reason="`mace-dance serve` (backend/cli/serve.py) is not in this checkout")


def start_backend():
    """A real backend subprocess on a free loopback port (the embedded choreographer and CPU renderer)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    env = dict(os.environ, MACE_DANCE_HOME=str(REPO / "build" / "test-home-empty"))
    process = subprocess.Popen([BACKEND_PYTHON, "-m", "backend.cli", "serve", "--address", address], cwd=REPO,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    from shared.client import BackendClient
    from shared.errors import BackendUnavailableError

    deadline = time.monotonic() + 120
    with BackendClient(address, timeout_s=1.0) as client:
        while True:
            try:
                client.hello()
                break
            except BackendUnavailableError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"backend did not start: {process.stdout.read().decode(errors='replace')[-2000:]}")
                time.sleep(0.3)
    return address, process


def stop_backend(process) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def backend_address():
    address, process = start_backend()
    yield address, process
    stop_backend(process)


def select_pose_bone(pose_bone, value: bool) -> None:
    """What a click does: ``PoseBone.select`` from Blender 5.0, ``Bone.select`` before (the add-on only reads it,
    through ``compat.pose_bone_selected``)."""
    if "select" in pose_bone.bl_rna.properties:
        pose_bone.select = value
    else:
        pose_bone.bone.select = value


@needs_serve
@pytest.mark.slow  # a real backend process (torch import), music analysis and a render
def test_generate_edit_render_regenerate_against_a_real_backend(bpy, scene, prefs, backend_address, tmp_path,
                                                                rotation_error):
    from blender_addon.bpy_glue import exporter
    from shared.skeleton import JOINT_NAMES

    from blender_addon.bpy_glue import takes

    address, _ = backend_address
    prefs.address, prefs.start_local, prefs.timeout_s = address, False, 10.0
    settings = scene.mace_dance
    settings.music_path, settings.seed, settings.length_s = str(EXAMPLE_MUSIC), 3, 4.0
    assert bpy.ops.mace.generate() == {"FINISHED"}
    obj = bpy.data.objects["SMPL"]
    bpy.context.view_layer.objects.active = obj
    take = takes.active_take(obj).action
    assert take.name == "T1 s3 groove_120bpm"  # take number, seed, then the song
    generated = exporter.export_motion(obj, scene)
    assert abs(generated.duration - 4.0) < 0.1 and len(scene.timeline_markers) >= 4
    status = bpy.context.window_manager.mace_dance_status
    assert status.error == "" and "Imported" in status.message and status.backend.startswith("backend")

    # The animator's sparse Bezier keys on the edit layer: the head turns between frames 80 and 100.
    head = obj.pose.bones["head"]
    for frame, angle in ((80, 0.0), (90, 0.5), (100, 0.0)):
        scene.frame_set(frame)
        if angle:
            head.rotation_quaternion = (np.cos(angle), 0.0, 0.0, np.sin(angle))
        head.keyframe_insert("rotation_quaternion", frame=frame)
    layer = takes.edit_layer_channels(obj)
    for fc in layer.fcurves:
        fc.keyframe_points[1].handle_left_type = fc.keyframe_points[1].handle_right_type = "FREE"
        fc.keyframe_points[1].handle_right.y += 0.05  # a hand-shaped curve
    snapshot = lambda: {(fc.data_path, fc.array_index): [  # noqa: E731
        (tuple(p.co), tuple(p.handle_left), tuple(p.handle_right), p.interpolation, p.handle_left_type)
        for p in fc.keyframe_points] for fc in layer.fcurves}
    layer_before = snapshot()
    assert len(layer_before) == 4 and all(len(keys) == 3 for keys in layer_before.values())
    edited = exporter.export_motion(obj, scene)  # take + layer, as seen
    assert rotation_error(edited.poses[89:90, 15], generated.poses[89:90, 15]) > 0.3

    # Regenerate the left arm over frames 30-60; everything else must stay exactly as it was.
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 30, 60
    arm = [JOINT_NAMES.index(n) for n in ("left_shoulder", "left_elbow", "left_wrist")]
    for name in ("root", *JOINT_NAMES):
        select_pose_bone(obj.pose.bones[name], name in JOINT_NAMES and JOINT_NAMES.index(name) in arm)
    take_tracks = len(takes.take_tracks(obj))
    assert bpy.ops.mace.regenerate_selection() == {"FINISHED"}
    new_take = takes.active_take(obj).action
    assert new_take.name == "T2 s3 regen groove_120bpm" and take.name in bpy.data.actions
    assert len(takes.take_tracks(obj)) == take_tracks + 1
    assert snapshot() == layer_before  # the animator's keys, interpolation and handles: untouched
    regenerated = exporter.export_motion(obj, scene)
    inside = np.zeros((generated.num_frames, 24), bool)
    inside[29:60, arm] = True
    assert rotation_error(regenerated.poses[~inside], edited.poses[~inside]) < 1e-5  # the head turn included
    assert rotation_error(regenerated.poses[inside], edited.poses[inside]) > 1e-3
    assert np.abs(regenerated.trans - edited.trans).max() < 1e-5

    settings.reference_image, settings.output_path = str(EXAMPLE_REFERENCE), str(tmp_path / "dance.mp4")
    settings.width = settings.height = 128
    settings.body = "2d"  # sent over the wire as the CPU renderer's option (the drawing's default anyway)
    assert bpy.ops.mace.render_reference() == {"FINISHED"}
    assert (tmp_path / "dance.mp4").stat().st_size > 1000
    assert status.last_output == str(tmp_path / "dance.mp4")
    assert "(2D puppet)" in status.message  # the body that drew it, in the backend's words


@needs_serve
@pytest.mark.slow  # starts and stops a real backend process (torch import)
def test_start_and_stop_a_local_backend(bpy, scene, prefs):
    from blender_addon import jobs

    prefs.address, prefs.start_local, prefs.backend_command = f"tcp://127.0.0.1:{free_port()}", True, ""
    prefs.backend_python, prefs.startup_timeout_s = BACKEND_PYTHON, 120.0
    assert bpy.ops.mace.backend_start() == {"FINISHED"}
    process = jobs.SESSION.local.process
    assert process.poll() is None
    assert "started here" in bpy.context.window_manager.mace_dance_status.backend
    assert bpy.ops.mace.backend_stop() == {"FINISHED"}
    assert process.poll() is not None and jobs.SESSION.local is None


@needs_serve
@pytest.mark.slow  # a real backend process generates a dance
def test_interface_path_polls_from_a_timer_and_imports(bpy, scene, prefs, backend_address):
    """The GUI driver (worker-thread handshake, timer polling) — timers never fire in background mode, so
    the test calls the timer callback itself, as Blender's event loop would."""
    from blender_addon import jobs, preferences, properties
    from blender_addon.operators.generate import _finish_import

    address, _ = backend_address
    prefs.address, prefs.start_local, prefs.timeout_s = address, False, 10.0
    audio = EXAMPLE_MUSIC.read_bytes()
    updates = []

    def status(update):
        updates.append(dict(update))
        properties.update_status(update)

    session = jobs.JobSession()
    try:
        session.run(preferences.connection_settings(bpy.context), "generate",
                    lambda client: client.submit_generate_motion(audio, EXAMPLE_MUSIC.name, seed=1, duration_s=2.0),
                    _finish_import(None, "gui take", str(EXAMPLE_MUSIC), "Imported"), status, blocking=False)
        assert bpy.app.timers.is_registered(session.timer)
        deadline = time.monotonic() + 120
        while session._tick() is not None:
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(jobs.POLL_INTERVAL_S)
    finally:
        session.shutdown()
    assert not bpy.app.timers.is_registered(session.timer)
    assert "gui take" in bpy.data.actions
    assert any("progress" in u for u in updates) and not any(u.get("error") for u in updates)
    assert bpy.context.window_manager.mace_dance_status.message.startswith("Imported")

    # A connection check alone (Check Backend / Start Local Backend in the interface).
    session.run(preferences.connection_settings(bpy.context), "connect", None, None, status, blocking=False)
    assert session.busy
    while session.timer() is not None:
        assert time.monotonic() < deadline
        time.sleep(jobs.POLL_INTERVAL_S)
    session.shutdown()
    assert not session.busy and updates[-1]["message"].startswith("backend ")


@pytest.mark.slow  # starts a real backend (its torch import), then waits out the client's timeout once it is killed
@needs_serve
def test_backend_killed_mid_job_is_reported_and_the_scene_unchanged(bpy, scene, prefs, random_motion):
    """Render a motion, kill the backend while it works: the job ends with a clear error, nothing changes."""
    from blender_addon import jobs, preferences, properties
    from blender_addon.bpy_glue import importer

    address, process = start_backend()
    try:
        prefs.address, prefs.start_local, prefs.timeout_s = address, False, 1.5
        motion = random_motion(600)
        importer.import_motion(bpy.context, motion, name="take")
        before = scene_fingerprint(bpy)
        image = EXAMPLE_REFERENCE.read_bytes()
        session = jobs.JobSession()
        session.run(preferences.connection_settings(bpy.context), "render",
                    lambda client: client.submit_render_video(motion, image, width=128, height=128),
                    lambda outcome: pytest.fail("the render cannot have finished"),
                    properties.update_status, blocking=False)
        deadline = time.monotonic() + 60
        while session.job is None:  # handshake, then submission
            assert session.timer() is not None and time.monotonic() < deadline
            time.sleep(jobs.POLL_INTERVAL_S)
        process.kill()
        while session.timer() is not None:
            assert time.monotonic() < deadline
            time.sleep(jobs.POLL_INTERVAL_S)
        session.shutdown()
    finally:
        stop_backend(process)
    status = bpy.context.window_manager.mace_dance_status
    assert not status.busy and "backend" in status.error and status.backend == "not connected"
    assert scene_fingerprint(bpy) == before


def test_new_armature_takes_the_rest_skeleton_of_an_smpl_model(bpy, scene, prefs, random_motion, rotation_error,
                                                               tmp_path):
    """With an SMPL model in the preferences, the armature rests on the joints regressed for the motion's betas."""
    from blender_addon.convert.axes import smpl_to_blender_points
    from blender_addon.bpy_glue import exporter
    from shared.motion_io import save_motion
    from shared.skeleton import JOINT_NAMES, Skeleton

    rng = np.random.default_rng(7)  # a tiny stand-in for the licensed model: 60 vertices
    model = tmp_path / "SMPL_TINY.npz"
    np.savez(model, v_template=rng.normal(0, 0.4, (60, 3)), shapedirs=rng.normal(0, 0.01, (60, 3, 10)),
             J_regressor=rng.dirichlet(np.ones(60), size=24), weights=rng.dirichlet(np.ones(24), size=60),
             f=rng.integers(0, 60, size=(40, 3)))
    motion = random_motion(20)
    save_motion(motion, tmp_path / "take.npz")
    prefs.smpl_model_path = str(model)
    try:
        assert bpy.ops.mace.import_motion(filepath=str(tmp_path / "take.npz")) == {"FINISHED"}
    finally:
        prefs.smpl_model_path = ""
    obj = bpy.data.objects["SMPL"]
    skeleton = Skeleton.from_smpl_model(model, motion.betas)
    heads = np.array([obj.data.bones[name].head_local for name in JOINT_NAMES])
    lift = np.asarray(obj["mace_lift"])
    assert np.abs(heads - smpl_to_blender_points(skeleton.rest_positions()) - lift).max() < 1e-5
    body = bpy.data.objects["SMPL body"]  # the model's own mesh, skinned with its weights
    assert len(body.data.vertices) == 60 and len(body.data.polygons) <= 40 and len(body.vertex_groups) == 24
    scene.frame_set(1 + 7)
    posed = np.array([obj.pose.bones[name].head for name in JOINT_NAMES])
    assert np.abs(posed - smpl_to_blender_points(motion.joint_positions(skeleton)[7])).max() < 1e-5
    for method in ("fcurves", "visual"):
        out = exporter.export_motion(obj, scene, method)
        assert rotation_error(out.poses, motion.poses) <= 1e-5 and np.abs(out.trans - motion.trans).max() <= 1e-5
