"""The pure-numpy conversion layer of the add-on (no Blender needed)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from blender_addon.convert import armature_to_smpl, smpl_to_armature
from blender_addon.convert.axes import BONE_REST_MATRIX, blender_to_smpl_points, smpl_to_blender_points
from shared import kinematics, rotations, skeleton
from shared.errors import InvalidInputError


def test_axis_map_is_x_minus_z_y():
    point = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(smpl_to_blender_points(point), [1.0, -3.0, 2.0])
    np.testing.assert_allclose(blender_to_smpl_points(smpl_to_blender_points(point)), point)
    assert np.isclose(np.linalg.det(BONE_REST_MATRIX), 1.0)


def test_rest_bones_point_up_from_the_skeleton_joints():
    rest = smpl_to_armature.armature_rest()
    assert rest.names == skeleton.JOINT_NAMES
    np.testing.assert_allclose(rest.heads, smpl_to_blender_points(skeleton.Skeleton.default().rest_positions()))
    np.testing.assert_allclose(rest.tails - rest.heads, np.tile([0, 0, smpl_to_armature.BONE_LENGTH], (24, 1)))


def test_pose_keys_are_continuous_and_equal_the_input_rotations(random_motion, rotation_error):
    motion = random_motion(40)
    keys = smpl_to_armature.pose_keys(motion.poses, motion.trans, frame_start=5)
    np.testing.assert_array_equal(keys.frames, 5 + np.arange(40))
    assert (np.sum(keys.quaternions[1:] * keys.quaternions[:-1], axis=-1) >= 0).all()
    assert rotation_error(rotations.quaternion_to_axis_angle(keys.quaternions), motion.poses) < 1e-6
    np.testing.assert_allclose(keys.location, motion.trans)


def test_fcurve_keys_interleave_frames_and_values(random_motion):
    motion = random_motion(3)
    curves = smpl_to_armature.fcurve_keys(smpl_to_armature.pose_keys(motion.poses, motion.trans))
    assert len(curves) == 3 + 24 * 4
    first = curves[0]
    assert (first.data_path, first.index, first.group) == ('pose.bones["pelvis"].location', 0, "pelvis")
    np.testing.assert_allclose(first.co, [1, motion.trans[0, 0], 2, motion.trans[1, 0], 3, motion.trans[2, 0]])
    assert curves[3].data_path == 'pose.bones["pelvis"].rotation_quaternion'


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
    matrices = np.zeros((8, 24, 4, 4))
    matrices[..., :3, :3] = BONE_REST_MATRIX @ world @ BONE_REST_MATRIX.T @ BONE_REST_MATRIX  # = R0 G
    matrices[..., :3, 3] = smpl_to_blender_points(positions)
    matrices[..., 3, 3] = 1.0
    rest = smpl_to_armature.armature_rest()
    local, trans = armature_to_smpl.visual_to_local(matrices, rest.heads)
    assert rotation_error(armature_to_smpl.local_to_poses(local), motion.poses) < 1e-5
    np.testing.assert_allclose(trans, motion.trans, atol=1e-6)


def test_convert_never_imports_bpy():
    code = ("import sys; import blender_addon.convert.smpl_to_armature, blender_addon.convert.armature_to_smpl; "
            "assert 'bpy' not in sys.modules, 'convert pulled in bpy'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
