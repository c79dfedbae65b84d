"""Import -> edit -> export through the real Blender (bpy module)."""

from __future__ import annotations

import wave

import numpy as np
import pytest

pytestmark = pytest.mark.blender


@pytest.fixture
def glue(bpy):
    from blender_addon import compat
    from blender_addon.bpy_glue import exporter, importer

    return compat, importer, exporter


def _import(bpy, importer, motion, **kwargs):
    return importer.import_motion(bpy.context, motion, name=kwargs.pop("name", "song seed 0"), **kwargs)


def _take_channels(compat, obj):
    from blender_addon.bpy_glue import takes

    return compat.strip_channels(takes.active_take(obj))


def _fcurves(compat, obj):
    return {(fc.data_path, fc.array_index): fc for fc in _take_channels(compat, obj).fcurves}


@pytest.mark.parametrize("method", ["fcurves", "visual"])
def test_round_trip_equals_input(bpy, scene, glue, random_motion, rotation_error, method):
    _, importer, exporter = glue
    motion = random_motion(90)
    result = _import(bpy, importer, motion)
    out = exporter.export_motion(result.armature, scene, method)
    assert out.num_frames == motion.num_frames and out.fps == motion.fps
    assert rotation_error(out.poses, motion.poses) <= 1e-5
    assert np.abs(out.trans - motion.trans).max() <= 1e-5
    np.testing.assert_allclose(out.betas, motion.betas)


def test_armature_reproduces_smpl_forward_kinematics(bpy, scene, glue, random_motion):
    from blender_addon.convert.axes import smpl_to_blender_points
    from shared.skeleton import JOINT_NAMES

    _, importer, _ = glue
    motion = random_motion(20)
    result = _import(bpy, importer, motion)
    scene.frame_set(1 + 13)
    heads = np.array([result.armature.pose.bones[name].head for name in JOINT_NAMES])
    expected = smpl_to_blender_points(motion.joint_positions()[13])
    assert np.abs(heads - expected).max() < 1e-5


def test_import_sets_fps_range_music_and_beats(bpy, scene, glue, random_motion, tmp_path):
    from blender_addon import compat
    from blender_addon.bpy_glue.scene import SOUND_STRIP_NAME

    _, importer, _ = glue
    music = tmp_path / "song.wav"
    with wave.open(str(music), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(8000)
        handle.writeframes(np.zeros(8000, np.int16).tobytes())
    motion = random_motion(75, fps=29.97)
    result = _import(bpy, importer, motion, audio_path=str(music), beats_s=np.array([0.5, 1.0, 1.5]))
    assert abs(scene.render.fps / scene.render.fps_base - 29.97) < 1e-6
    assert (scene.frame_start, scene.frame_end) == (1, 75)
    assert [m.frame for m in scene.timeline_markers] == [1 + round(0.5 * 29.97), 1 + round(29.97), 1 + round(1.5 * 29.97)]
    if result.warnings:  # the bpy 4.2 wheel is built without audio; Blender itself has it
        assert result.warnings == [w for w in result.warnings if "music strip not added" in w]
        assert bpy.app.version < (4, 3, 0)
    else:
        assert compat.sound_strips(scene)[SOUND_STRIP_NAME].frame_start == 1


def test_each_import_is_a_new_action_and_keeps_the_old(bpy, scene, glue, random_motion, rotation_error):
    _, importer, exporter = glue
    first = _import(bpy, importer, random_motion(30, seed=1), name="song seed 1")
    second = _import(bpy, importer, random_motion(30, seed=2), name="song seed 2", armature=first.armature)
    assert second.armature == first.armature and not second.created_armature
    from blender_addon.bpy_glue import takes

    assert first.action.name in bpy.data.actions and first.action.use_fake_user
    assert takes.active_take(first.armature).action == second.action
    tracks = takes.take_tracks(first.armature)
    assert [(t.name, t.mute) for t in tracks] == [("Take: song seed 1", True), ("Take: song seed 2", False)]
    takes.set_active_take(first.armature, "Take: song seed 1")  # switching back shows the first take again
    assert rotation_error(exporter.export_motion(first.armature, scene).poses, random_motion(30, seed=1).poses) < 1e-5
    takes.set_active_take(first.armature, "Take: song seed 2")
    assert rotation_error(exporter.export_motion(first.armature, scene).poses, random_motion(30, seed=2).poses) < 1e-5


def test_edited_key_shows_up_in_export(bpy, scene, glue, random_motion, rotation_error):
    """Keys made as usual land on the edit layer above the take: export shows them, the take is untouched."""
    from blender_addon.bpy_glue import takes
    from blender_addon.convert.axes import blender_to_smpl_points

    compat, importer, exporter = glue
    motion = random_motion(40)
    obj = _import(bpy, importer, motion).armature
    take_keys = {key: np.array([tuple(p.co) for p in fc.keyframe_points]) for key, fc in _fcurves(compat, obj).items()}
    bone = obj.pose.bones["left_elbow"]
    for frame in (6, 16):  # hold the pose on either side, as an animator does before changing frame 11
        scene.frame_set(frame)
        bone.keyframe_insert("rotation_quaternion", frame=frame)
    new_q = np.array([np.cos(0.6), 0.0, np.sin(0.6), 0.0])  # 1.2 rad about the bone's own Y (a forearm twist)
    scene.frame_set(11)
    bone.rotation_quaternion = new_q
    bone.keyframe_insert("rotation_quaternion", frame=11)  # what pressing I does
    layer = takes.edit_layer_channels(obj)
    assert obj.animation_data.action.name == "SMPL edits" and len(layer.fcurves) == 4
    out = exporter.export_motion(obj, scene)
    # In SMPL axes the twist is about the forearm's rest direction, from the elbow to the wrist.
    forearm = np.array(obj.data.bones["left_elbow"].matrix_local)[:3, 1]
    expected = blender_to_smpl_points(forearm) * 1.2
    assert rotation_error(out.poses[10, 18], expected) < 1e-5
    untouched = np.ones((40, 24), bool)
    untouched[6:15, 18] = False  # frames 7-15 blend towards the new key
    assert rotation_error(out.poses[untouched], motion.poses[untouched]) < 1e-5
    for key, fc in _fcurves(compat, obj).items():  # the generated take never changes
        np.testing.assert_array_equal(np.array([tuple(p.co) for p in fc.keyframe_points]), take_keys[key])


def test_keys_between_frames_are_evaluated_like_blender(bpy, scene, glue, random_motion):
    from blender_addon.convert.axes import blender_to_smpl_points

    compat, importer, exporter = glue
    obj = _import(bpy, importer, random_motion(50)).armature
    path = 'pose.bones["right_knee"].rotation_quaternion'
    fcurves = _fcurves(compat, obj)
    for index in range(4):
        points = fcurves[(path, index)].keyframe_points
        for i in reversed(range(len(points))):  # back to front: removal shifts later points
            if 21 <= points[i].co[0] <= 39:
                points.remove(points[i])
    for frame, angle in ((30.0, 1.0), (25.5, -0.7)):  # one key on a frame, one between frames (on the take)
        for index, value in enumerate((np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0)):
            fcurves[(path, index)].keyframe_points.insert(frame, value)
    fast = exporter.export_motion(obj, scene, "fcurves")
    visual = exporter.export_motion(obj, scene, "visual")  # Blender's own evaluation of the pose
    assert np.abs(fast.poses - visual.poses).max() < 1e-5
    knee_x = blender_to_smpl_points(np.array(obj.data.bones["right_knee"].matrix_local)[:3, 0])
    np.testing.assert_allclose(fast.poses[29, 5], knee_x * 1.0, atol=1e-6)  # 1 rad about the knee's bend axis
    # Frame 26 lies between the keys at 25.5 and 30: neither the old motion nor either key.
    assert not np.allclose(fast.poses[25, 5], knee_x * -0.7, atol=1e-3)


ROTATION_MODES = ("QUATERNION", "AXIS_ANGLE", "XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


@pytest.mark.parametrize("mode", ROTATION_MODES)
def test_round_trip_in_every_rotation_mode(bpy, scene, glue, random_motion, rotation_error, mode):
    """The animator may switch every bone (root included) to any rotation mode; export still gives the motion."""
    from mathutils import Quaternion

    from blender_addon.bpy_glue.armature import rig_frames
    from blender_addon.convert import smpl_to_armature
    from blender_addon.convert.smpl_to_armature import rotation_data_path
    from shared.skeleton import JOINT_NAMES

    compat, importer, exporter = glue
    motion = random_motion(30, seed=11)
    obj = _import(bpy, importer, motion).armature
    keys = smpl_to_armature.pose_keys(motion.poses, motion.trans, rig_frames(obj))
    owner = _take_channels(compat, obj)
    frames = 1 + np.arange(30)
    for j, name in enumerate(JOINT_NAMES):
        for fc in [fc for fc in owner.fcurves if fc.data_path == rotation_data_path(name)]:
            owner.fcurves.remove(fc)
        quats = keys.quaternions[:, j]
        if mode == "QUATERNION":
            values = quats
        elif mode == "AXIS_ANGLE":
            values = np.array([(lambda a: (a[1], *a[0]))(Quaternion(q).to_axis_angle()) for q in quats])
        else:
            values = np.array([tuple(Quaternion(q).to_euler(mode)) for q in quats])
        obj.pose.bones[name].rotation_mode = mode
        group = owner.groups.get(name) or owner.groups.new(name)
        for index in range(values.shape[1]):
            fc = compat.new_fcurve(owner, rotation_data_path(name, mode), index, group)
            fc.keyframe_points.add(30)
            fc.keyframe_points.foreach_set("co", np.stack([frames, values[:, index]], -1).astype(np.float32).ravel())
            fc.update()
    obj.pose.bones["root"].rotation_mode = mode  # unkeyed, at rest: must not disturb anything
    for method in ("fcurves", "visual"):
        out = exporter.export_motion(obj, scene, method)
        assert rotation_error(out.poses, motion.poses) <= 1e-5, method
        assert np.abs(out.trans - motion.trans).max() <= 1e-5


def test_turning_the_root_bone_turns_the_whole_dance(bpy, scene, glue, random_motion, rotation_error):
    """A root rotation (what an animator does to re-aim the dance) is part of what both exports read."""
    from blender_addon.convert.axes import SMPL_TO_BLENDER
    from shared.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    _, importer, exporter = glue
    motion = random_motion(12, seed=5)
    obj = _import(bpy, importer, motion).armature
    root = obj.pose.bones["root"]
    root.rotation_mode = "XYZ"
    root.rotation_euler = (0.0, 0.0, 0.7)  # turn 0.7 rad about the vertical
    fast, visual = (exporter.export_motion(obj, scene, method) for method in ("fcurves", "visual"))
    turn = SMPL_TO_BLENDER.T @ axis_angle_to_matrix(np.array([0.0, 0.0, 0.7])) @ SMPL_TO_BLENDER
    expected_orient = matrix_to_axis_angle(turn @ axis_angle_to_matrix(motion.poses[:, 0]))
    assert rotation_error(fast.poses[:, 0], expected_orient) < 1e-5
    assert rotation_error(fast.poses, visual.poses) < 1e-5 and np.abs(fast.trans - visual.trans).max() < 1e-5
    assert rotation_error(fast.poses[:, 1:], motion.poses[:, 1:]) < 1e-5


def test_bones_follow_the_limbs_and_the_body_is_skinned(bpy, scene, glue, random_motion):
    from blender_addon.convert import rig
    from blender_addon.convert.axes import smpl_to_blender_points
    from shared.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, Skeleton

    _, importer, _ = glue
    motion = random_motion(10)
    obj = _import(bpy, importer, motion).armature
    bones = obj.data.bones
    joints = smpl_to_blender_points(Skeleton.default().rest_positions()) + np.asarray(obj["mace_lift"])
    assert joints[:, 2].min() > 0.0  # stands on the floor
    for name in JOINT_NAMES:
        children = [JOINT_NAMES[c] for c in np.flatnonzero(PARENTS == JOINT_INDEX[name])]
        np.testing.assert_allclose(bones[name].head_local, joints[JOINT_INDEX[name]], atol=1e-5)
        if children:  # tail on the (spine-ward) child joint; the child is connected when its head is there
            child = {"pelvis": "spine1", "spine3": "neck"}.get(name, children[0])
            np.testing.assert_allclose(bones[name].tail_local, joints[JOINT_INDEX[child]], atol=1e-5)
            assert bones[child].use_connect
        assert bones[name].length > 0.03
    assert not bones["left_hip"].use_connect and bones["pelvis"].parent.name == "root"
    # Rolls: knees bend about their X axis, which points to the dancer's side; arms mirror left/right.
    assert abs(np.array(bones["left_knee"].matrix_local)[0, 0]) > 0.95
    left_x = np.array(bones["left_elbow"].matrix_local)[:3, 0]
    right_x = np.array(bones["right_elbow"].matrix_local)[:3, 0]
    assert left_x[2] > 0.9 and right_x[2] < -0.9
    assert {c.name for c in obj.data.collections} >= set(rig.COLLECTIONS)
    assert [c.name for c in bones["left_elbow"].collections] == ["Arms"]
    assert [c.name for c in bones["right_knee"].collections] == ["Legs"]
    # The body mesh rides on the bones: an Armature modifier, a vertex group per bone, and it moves with them.
    body = next(child for child in obj.children if child.type == "MESH")
    assert body.modifiers[0].type == "ARMATURE" and body.modifiers[0].object == obj
    assert {g.name for g in body.vertex_groups} == set(JOINT_NAMES)
    hand = body.vertex_groups["left_hand"].index
    hand_vertices = [v.index for v in body.data.vertices if any(g.group == hand and g.weight == 1.0 for g in v.groups)]
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for frame in (1, 7):
        scene.frame_set(frame)
        depsgraph.update()
        evaluated = body.evaluated_get(depsgraph).data
        posed = np.array([evaluated.vertices[i].co for i in hand_vertices])
        wrist = obj.pose.bones["left_hand"]
        local = (np.array(wrist.matrix.inverted()) @ np.c_[posed, np.ones(len(posed))].T).T[:, :3]
        rest_local = (np.array(bones["left_hand"].matrix_local.inverted())
                      @ np.c_[[body.data.vertices[i].co for i in hand_vertices], np.ones(len(posed))].T).T[:, :3]
        np.testing.assert_allclose(local, rest_local, atol=1e-4)  # rigidly carried by its bone


def test_constraints_are_included_through_visual_evaluation(bpy, scene, glue, random_motion):
    _, importer, exporter = glue
    obj = _import(bpy, importer, random_motion(10)).armature
    limit = obj.pose.bones["left_elbow"].constraints.new("LIMIT_ROTATION")
    limit.use_limit_x = limit.use_limit_y = limit.use_limit_z = True
    limit.owner_space = "LOCAL"
    assert exporter.needs_visual_evaluation(obj)
    out = exporter.export_motion(obj, scene)  # auto -> visual
    assert np.abs(out.poses[:, 18]).max() < 1e-5


def test_non_smpl_armature_and_empty_action_are_refused(bpy, scene, glue):
    from shared.errors import InvalidInputError

    _, _, exporter = glue
    data = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", data)
    scene.collection.objects.link(rig)
    with pytest.raises(InvalidInputError, match="not an SMPL armature"):
        exporter.export_motion(rig, scene)

    from blender_addon.bpy_glue.armature import build_armature
    from shared.body_mesh import rig_rest

    smpl = build_armature(scene.collection, rig_rest())
    with pytest.raises(InvalidInputError, match="no action"):
        exporter.export_motion(smpl, scene)
    from blender_addon import compat

    compat.assign_action(smpl, bpy.data.actions.new("empty"))
    with pytest.raises(InvalidInputError, match="is empty"):
        exporter.export_motion(smpl, scene)


def test_failed_import_leaves_the_scene_unchanged(bpy, scene, glue, random_motion, monkeypatch):
    from blender_addon.bpy_glue import scene as scene_glue
    from shared.errors import InvalidInputError

    _, importer, _ = glue
    before = (len(bpy.data.objects), len(bpy.data.actions), len(bpy.data.armatures), scene.render.fps, scene.frame_end)
    with pytest.raises(InvalidInputError, match="music file not found"):
        _import(bpy, importer, random_motion(12, fps=60), audio_path="/nonexistent/song.wav")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scene_glue, "set_beat_markers", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _import(bpy, importer, random_motion(12, fps=60), beats_s=np.array([0.1]))
    after = (len(bpy.data.objects), len(bpy.data.actions), len(bpy.data.armatures), scene.render.fps, scene.frame_end)
    assert after == before
