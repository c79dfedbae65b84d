"""The pure-numpy conversion layer of the add-on (no Blender needed)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from blender_addon.convert import armature_to_smpl, rig, smpl_to_armature
from blender_addon.convert.axes import SMPL_TO_BLENDER, blender_to_smpl_points, smpl_to_blender_points
from shared import body_mesh, kinematics, rotations, skeleton
from shared.errors import InvalidInputError


def test_axis_map_is_x_minus_z_y():
    point = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(smpl_to_blender_points(point), [1.0, -3.0, 2.0])
    np.testing.assert_allclose(blender_to_smpl_points(smpl_to_blender_points(point)), point)
    assert np.isclose(np.linalg.det(SMPL_TO_BLENDER), 1.0)


def test_rig_bones_run_along_the_limbs_with_proper_frames():
    rest = body_mesh.rig_rest()
    assert rest.names == ("root", *skeleton.JOINT_NAMES)
    joints = smpl_to_blender_points(skeleton.Skeleton.default().rest_positions()) + rest.lift
    np.testing.assert_allclose(rest.heads[1:], joints)
    np.testing.assert_allclose(rest.tails[1 + skeleton.LEFT_KNEE], joints[skeleton.LEFT_ANKLE])
    assert np.isclose(joints[:, 2].min(), body_mesh.FOOT_JOINT_HEIGHT)
    for m in rest.matrices:  # proper rotations with Y along the bone
        np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(m), 1.0)
    directions = (rest.tails - rest.heads) / np.linalg.norm(rest.tails - rest.heads, axis=-1, keepdims=True)
    np.testing.assert_allclose(rest.matrices[:, :, 1], directions, atol=1e-12)
    assert rest.connected[1 + skeleton.LEFT_KNEE] and not rest.connected[1 + skeleton.LEFT_HIP]


def test_pose_keys_are_continuous_and_conjugate_the_rotations(random_motion, rotation_error):
    motion = random_motion(40)
    rest = body_mesh.rig_rest()
    keys = smpl_to_armature.pose_keys(motion.poses, motion.trans, rest, frame_start=5)
    np.testing.assert_array_equal(keys.frames, 5 + np.arange(40))
    assert (np.sum(keys.quaternions[1:] * keys.quaternions[:-1], axis=-1) >= 0).all()
    conj = rig.joint_frames(rest)
    bone_rot = rotations.quaternion_to_matrix(keys.quaternions)
    smpl = rotations.matrix_to_axis_angle(conj @ bone_rot @ np.swapaxes(conj, -1, -2))
    assert rotation_error(smpl, motion.poses) < 1e-6
    # The root stays on the floor right under the pelvis; the pelvis bone's location carries the rest.
    pelvis_head = smpl_to_blender_points(motion.trans) - rest.lift + rest.heads[1]
    root_head = rest.heads[0] + keys.location @ rest.matrices[0].T
    np.testing.assert_allclose(root_head[:, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(root_head[:, :2], pelvis_head[:, :2], atol=1e-12)
    posed_pelvis = root_head + (rest.heads[1] - rest.heads[0]) + keys.pelvis_location @ rest.matrices[1].T
    np.testing.assert_allclose(posed_pelvis, pelvis_head, atol=1e-12)


def test_channels_invert_pose_keys(random_motion, rotation_error):
    motion = random_motion(20)
    rest = body_mesh.rig_rest()
    keys = smpl_to_armature.pose_keys(motion.poses, motion.trans, rest)
    identity = np.tile(np.eye(3), (20, 1, 1))
    local, trans = armature_to_smpl.channels_to_local(rotations.quaternion_to_matrix(keys.quaternions), identity,
                                                      keys.location, rest, keys.pelvis_location)
    assert rotation_error(armature_to_smpl.local_to_poses(local), motion.poses) < 1e-5
    np.testing.assert_allclose(trans, motion.trans, atol=1e-6)


def test_fcurve_keys_interleave_frames_and_values(random_motion):
    motion = random_motion(3)
    keys = smpl_to_armature.pose_keys(motion.poses, motion.trans, body_mesh.rig_rest())
    curves = smpl_to_armature.fcurve_keys(keys)
    assert len(curves) == 3 + 3 + 24 * 4
    first = curves[0]
    assert (first.data_path, first.index, first.group) == ('pose.bones["root"].location', 0, "root")
    np.testing.assert_allclose(first.co, [1, keys.location[0, 0], 2, keys.location[1, 0], 3, keys.location[2, 0]],
                               rtol=1e-6)
    assert curves[3].data_path == 'pose.bones["pelvis"].location'
    assert curves[6].data_path == 'pose.bones["pelvis"].rotation_quaternion'


@pytest.mark.parametrize("order", armature_to_smpl.EULER_ORDERS)
def test_euler_matches_blender_convention(order):
    # Blender's "XYZ" applies X first: R = Rz Ry Rx, which is scipy's extrinsic "xyz".
    angles = np.random.default_rng(3).uniform(-3, 3, size=(10, 3))
    expected = Rotation.from_euler(order.lower(), angles[:, ["XYZ".index(a) for a in order]]).as_matrix()
    np.testing.assert_allclose(armature_to_smpl.euler_to_matrix(angles, order), expected, atol=1e-12)


def test_channels_to_matrix_for_every_mode():
    aa = np.random.default_rng(4).uniform(-2, 2, size=(20, 3))
    expected = rotations.axis_angle_to_matrix(aa)
    quat = rotations.axis_angle_to_quaternion(aa) * 3.0  # Blender normalises non-unit quaternions
    np.testing.assert_allclose(armature_to_smpl.channels_to_matrix(quat, "QUATERNION"), expected, atol=1e-12)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis_angle = np.concatenate([angle, aa / angle * 2.0], axis=-1)  # axis need not be unit either
    np.testing.assert_allclose(armature_to_smpl.channels_to_matrix(axis_angle, "AXIS_ANGLE"), expected, atol=1e-12)
    euler = Rotation.from_matrix(expected).as_euler("yxz")[:, [1, 0, 2]]  # (X, Y, Z) angles for order "YXZ"
    np.testing.assert_allclose(armature_to_smpl.channels_to_matrix(euler, "YXZ"), expected, atol=1e-12)
    with pytest.raises(InvalidInputError, match="Euler order"):
        armature_to_smpl.channels_to_matrix(euler, "XXY")


def test_visual_matrices_give_back_local_rotations_and_trans(random_motion, rotation_error):
    motion = random_motion(8)
    world = kinematics.global_rotations(motion.poses)
    positions = kinematics.forward_kinematics(motion.poses, motion.trans)
    rest = body_mesh.rig_rest()
    matrices = np.zeros((8, 24, 4, 4))
    matrices[..., :3, :3] = SMPL_TO_BLENDER @ world @ SMPL_TO_BLENDER.T @ rest.matrices[1:]  # turned rest frames
    matrices[..., :3, 3] = smpl_to_blender_points(positions)  # posed joints sit where SMPL puts them
    matrices[..., 3, 3] = 1.0
    local, trans = armature_to_smpl.visual_to_local(matrices, rest)
    assert rotation_error(armature_to_smpl.local_to_poses(local), motion.poses) < 1e-5
    np.testing.assert_allclose(trans, motion.trans, atol=1e-6)


def test_procedural_body_is_closed_and_weighted_to_its_bones():
    rest = body_mesh.rig_rest()
    body = body_mesh.procedural_body(rest)
    np.testing.assert_allclose(body.weights.sum(axis=1), 1.0, rtol=1e-6)
    assert body.weights[:, 0].max() == 0.0  # nothing rides on the root
    assert (body.weights.max(axis=0)[1:] == 1.0).all()  # every joint bone carries part of the body
    edges = {}
    for face in body.faces:
        for a, b in zip(face, face[1:] + face[:1]):
            edges[(min(a, b), max(a, b))] = edges.get((min(a, b), max(a, b)), 0) + 1
    assert set(edges.values()) == {2}  # every edge shared by two faces: closed tubes
    top = body.vertices[:, 2].max()
    assert 1.5 < top < 2.0 and body.vertices[:, 2].min() > -0.05  # a person's height, standing on the floor


def test_convert_never_imports_bpy():
    code = ("import sys; import blender_addon.convert.smpl_to_armature, blender_addon.convert.armature_to_smpl; "
            "assert 'bpy' not in sys.modules, 'convert pulled in bpy'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
