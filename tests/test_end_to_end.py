"""The whole product chain, as an animator runs it: backend process, Blender add-on, edit, render.

`mace-dance serve` runs as a subprocess (the embedded choreographer and CPU puppet, since the test home has
no weights); Blender is the bpy module in this process, in background mode, where the add-on's operators
take their blocking path — exactly what `blender -b` batch scripts see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.blender, pytest.mark.slow]  # slow: the whole chain, a real backend process and Blender

REPO = Path(__file__).resolve().parents[1]
MUSIC = REPO / "examples" / "music" / "groove_120bpm.ogg"
REFERENCE = REPO / "examples" / "reference.png"
EDITED_BONE = "left_shoulder"


def visible_edit(motion, index: int):
    """A strong rotation of the edited bone at frame ``index`` that moves the hand across the front view.

    Whichever way the dancer faces, one of these bends moves the left hand at least 25 cm in the image plane
    (x, y of the Y-up world; the renderers look along -Z), so the edit cannot hide in depth.
    """
    from shared.kinematics import forward_kinematics
    from shared.rotations import axis_angle_to_quaternion
    from shared.skeleton import JOINT_NAMES, LEFT_HAND

    joint = JOINT_NAMES.index(EDITED_BONE)
    frame = motion.slice(index, index + 1)
    before = forward_kinematics(frame.poses, frame.trans)[0, LEFT_HAND, :2]
    best = None
    for axis in np.eye(3):
        for angle in (1.4, -1.4):
            poses = frame.poses.copy()
            poses[0, joint] = axis * angle
            moved = np.linalg.norm(forward_kinematics(poses, frame.trans)[0, LEFT_HAND, :2] - before)
            if best is None or moved > best[0]:
                best = (moved, axis * angle)
    assert best[0] > 0.25, f"no visible edit found ({best[0]:.2f} m)"
    return axis_angle_to_quaternion(best[1])


def serve_command() -> list[str]:
    """The installed `mace-dance` console script, or the same entry point through the interpreter."""
    script = Path(sys.executable).with_name("mace-dance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "backend.cli"]


@pytest.fixture
def backend(tmp_path):
    env = dict(os.environ, MACE_DANCE_HOME=str(tmp_path / "empty-home"), PYTHONPATH=str(REPO))
    process = subprocess.Popen([*serve_command(), "serve", "--address", "tcp://127.0.0.1:0"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if "listening on " not in line:
        process.kill()
        pytest.fail(f"`mace-dance serve` did not start: {line}{process.stderr.read()[-2000:]}")
    yield process, line.split("listening on ")[1].split()[0]
    if process.poll() is None:
        process.kill()
    process.wait(10)


def probe(path: Path) -> dict:
    """Read an mp4 back: decoded video frames, their rate, and the audio stream's duration."""
    from backend.appearance.video_io import probe as probe_media, read_frames

    info = probe_media(path)
    return {"frames": np.stack(list(read_frames(path))), "fps": info.fps, "audio_seconds": info.audio_duration_s}


def render(bpy, settings, out: Path) -> dict:
    settings.output_path = str(out)
    assert bpy.ops.mace.render_reference() == {"FINISHED"}
    pose_video = out.with_name(out.stem + "_pose.mp4")
    assert out.is_file() and pose_video.is_file()
    return {"video": probe(out), "pose": probe(pose_video)}


def test_music_to_edited_dance_video_through_blender(bpy, scene, prefs, backend, tmp_path):
    import soundfile
    from mathutils import Quaternion

    from blender_addon.bpy_glue import exporter
    from blender_addon.bpy_glue.armature import rig_frames
    from blender_addon.convert.rig import joint_frames
    from shared.motion_io import load_motion
    from shared.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle
    from shared.skeleton import JOINT_NAMES

    process, address = backend
    prefs.address, prefs.start_local, prefs.timeout_s = address, False, 10.0
    settings = scene.mace_dance
    settings.music_path, settings.seed, settings.length_s = str(MUSIC), 7, 0.0  # the whole song
    settings.reference_image, settings.width, settings.height = str(REFERENCE), 96, 144
    music_seconds = soundfile.info(str(MUSIC)).duration

    # 1. Generate from the example music: a new armature with the dance as its action.
    assert bpy.ops.mace.generate() == {"FINISHED"}
    armature = next(obj for obj in bpy.data.objects if obj.type == "ARMATURE")
    generated = exporter.export_motion(armature, scene)
    assert abs(generated.duration - music_seconds) < 2 / generated.fps
    assert scene.render.fps == 30 and len(scene.timeline_markers) > 20  # beats drawn as markers

    # 2. Render the unedited dance, then change one key the way an animator does: pose the bone, key it.
    unedited = render(bpy, settings, tmp_path / "unedited.mp4")
    edit_index = generated.num_frames // 2
    edit_frame = scene.frame_start + edit_index
    bone = armature.pose.bones[EDITED_BONE]
    bone.rotation_mode = "QUATERNION"
    for hold in (edit_frame - 1, edit_frame + 1):  # key the pose either side first, so only this frame changes
        scene.frame_set(hold)
        assert bone.keyframe_insert("rotation_quaternion", frame=hold)
    scene.frame_set(edit_frame)
    bent = visible_edit(generated, edit_index)  # (w, x, y, z) in SMPL axes
    # The bone's own axes are its rest frame C (in SMPL axes): the same turn about the axis C^T a.
    conj = joint_frames(rig_frames(armature))[JOINT_NAMES.index(EDITED_BONE)]
    angle_axis = quaternion_to_axis_angle(np.asarray(bent))
    bone.rotation_quaternion = Quaternion(axis_angle_to_quaternion(conj.T @ angle_axis))
    assert bone.keyframe_insert("rotation_quaternion", frame=edit_frame)  # lands on the edit layer

    # 3. Export: the edited key is in the motion, every other frame is as generated.
    assert bpy.ops.mace.export_motion(filepath=str(tmp_path / "edited.npz")) == {"FINISHED"}
    edited = load_motion(tmp_path / "edited.npz")
    joint = JOINT_NAMES.index(EDITED_BONE)
    np.testing.assert_allclose(edited.poses[edit_index, joint], quaternion_to_axis_angle(np.array(bent)), atol=1e-5)
    untouched = np.ones(edited.num_frames, bool)
    untouched[edit_index] = False
    np.testing.assert_allclose(edited.poses[untouched], generated.poses[untouched], atol=1e-5)

    # 4. Render with the reference: frames match the motion, audio matches the music, the edit is rendered.
    final = render(bpy, settings, tmp_path / "dance.mp4")
    video, pose = final["video"], final["pose"]
    assert len(video["frames"]) == edited.num_frames == len(pose["frames"])
    assert video["fps"] == pytest.approx(edited.fps)
    assert video["audio_seconds"] == pytest.approx(music_seconds, abs=0.1)
    assert len(video["frames"]) / video["fps"] == pytest.approx(music_seconds, abs=0.1)

    def changed_pixels(kind: str, index: int) -> int:
        """Pixels that differ clearly (beyond codec noise) between the edited and the unedited render."""
        difference = np.abs(final[kind]["frames"][index].astype(int) - unedited[kind]["frames"][index].astype(int))
        return int((difference.max(axis=-1) > 48).sum())

    for kind in ("pose", "video"):  # only the edited frame changes; its neighbours render as before
        neighbours = max(changed_pixels(kind, edit_index - 10), changed_pixels(kind, edit_index + 10))
        edited_count = changed_pixels(kind, edit_index)
        assert edited_count > 5 * neighbours + 10, (kind, edited_count, neighbours)

    # 5. The backend dies: the add-on says so plainly and leaves the scene as it was.
    process.kill()
    process.wait(10)
    before = (len(bpy.data.objects), len(bpy.data.actions), armature.animation_data.action.name)
    with pytest.raises(RuntimeError, match="(?i)backend"):
        bpy.ops.mace.generate()
    assert (len(bpy.data.objects), len(bpy.data.actions), armature.animation_data.action.name) == before
    status = bpy.context.window_manager.mace_dance_status
    assert "backend" in (status.error + status.hint).lower() and "mace-dance serve" in (status.error + status.hint)
