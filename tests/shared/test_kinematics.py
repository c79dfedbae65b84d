import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch

from shared.kinematics import forward_kinematics, global_rotations
from shared.rotations import axis_angle_to_matrix
from shared.skeleton import FOOT_JOINTS, JOINT_NAMES, MIRROR, PARENTS, REST_OFFSETS, Skeleton


def test_default_rest_skeleton_proportions():
    rest = Skeleton.default().rest_positions()
    head, l_ankle, l_wrist, r_wrist = rest[15], rest[7], rest[20], rest[21]
    assert head[1] == pytest.approx(0.619, abs=2e-3)
    assert head[1] - l_ankle[1] == pytest.approx(1.51, abs=0.01)
    assert l_wrist[0] > 0.7 and r_wrist[0] < -0.7  # +X is the body's left
    assert [JOINT_NAMES[j] for j in FOOT_JOINTS] == ["left_ankle", "right_ankle", "left_foot", "right_foot"]


def test_parents_precede_children_and_mirror_is_an_involution():
    assert PARENTS[0] == -1 and all(PARENTS[j] < j for j in range(1, 24))
    np.testing.assert_array_equal(MIRROR[MIRROR], np.arange(24))
    for j in range(24):
        left, right = JOINT_NAMES[j], JOINT_NAMES[MIRROR[j]]
        assert left.replace("left", "right") == right or right.replace("left", "right") == left or j == MIRROR[j]


def test_fk_of_rest_pose_is_rest_positions_plus_trans():
    trans = np.array([[0.1, 0.9, -0.2]])
    joints = forward_kinematics(np.zeros((1, 24, 3)), trans)
    np.testing.assert_allclose(joints[0], Skeleton.default().rest_positions() + trans[0], atol=1e-12)


def test_bending_the_left_elbow_moves_only_its_descendants():
    poses = np.zeros((1, 24, 3))
    poses[0, 18] = [0, 0, np.pi / 2]  # left elbow, 90° about Z
    rest = forward_kinematics(np.zeros((1, 24, 3)), np.zeros((1, 3)))[0]
    bent = forward_kinematics(poses, np.zeros((1, 3)))[0]
    moved = np.where(np.linalg.norm(bent - rest, axis=1) > 1e-9)[0]
    assert moved.tolist() == [20, 22]
    # the forearm keeps its length
    assert np.linalg.norm(bent[20] - bent[18]) == pytest.approx(np.linalg.norm(REST_OFFSETS[20]))


def test_global_rotations_compose_along_the_chain(rng):
    poses = rng.normal(scale=0.4, size=(3, 24, 3))
    world = global_rotations(poses)
    local = axis_angle_to_matrix(poses)
    np.testing.assert_allclose(world[:, 20], world[:, 18] @ local[:, 20], atol=1e-12)
    np.testing.assert_allclose(world[:, 0], local[:, 0], atol=1e-12)


def synthetic_smpl_model(rng) -> dict:
    """An SMPL-shaped model whose joint regressor picks 24 vertices; betas move those vertices."""
    num_vertices = 6890
    v_template = rng.normal(scale=0.3, size=(num_vertices, 3))
    rest = Skeleton.default().rest_positions() + np.array([0.0, -0.24, 0.03])
    v_template[:24] = rest
    shapedirs = np.zeros((num_vertices, 3, 10))
    shapedirs[:24, :, :] = rng.normal(scale=0.02, size=(24, 3, 10))
    regressor = np.zeros((24, num_vertices))
    regressor[np.arange(24), np.arange(24)] = 1.0
    weights = np.zeros((num_vertices, 24))
    weights[np.arange(num_vertices), rng.integers(0, 24, num_vertices)] = 1.0
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((num_vertices, 3, 207)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.stack([np.where(PARENTS < 0, 4294967295, PARENTS), np.arange(24)]).astype(np.int64),
        "f": rng.integers(0, num_vertices, size=(100, 3)).astype(np.int64),
    }


def test_fk_matches_smplx_joints_for_a_model_and_betas(rng):
    model = synthetic_smpl_model(rng)
    betas = rng.normal(size=10)
    poses = rng.normal(scale=0.5, size=(4, 24, 3))
    trans = rng.normal(size=(4, 3))

    body = smplx.SMPL(model_path=None, data_struct=types.SimpleNamespace(**model), create_transl=False)
    with torch.no_grad():
        out = body(
            betas=torch.tensor(betas[None].repeat(4, 0), dtype=torch.float32),
            global_orient=torch.tensor(poses[:, 0], dtype=torch.float32),
            body_pose=torch.tensor(poses[:, 1:].reshape(4, 69), dtype=torch.float32),
            transl=torch.tensor(trans, dtype=torch.float32),
        )
    from shared.skeleton import regress_rest_joints

    skeleton = Skeleton.from_joint_positions(regress_rest_joints(model, betas))
    ours = forward_kinematics(poses, trans, skeleton)
    np.testing.assert_allclose(ours, out.joints[:, :24].numpy(), atol=2e-5)


def test_skeleton_from_official_style_pickle_with_chumpy_and_sparse(tmp_path, rng, monkeypatch):
    """Official SMPL pickles hold chumpy arrays and a scipy.sparse regressor: read them without chumpy."""
    model = synthetic_smpl_model(rng)
    fake_chumpy = types.ModuleType("chumpy.ch")

    class Ch:  # what chumpy pickles look like: an object whose state keeps the array in `x`
        def __init__(self, x):
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    fake_chumpy.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", fake_chumpy)
    official = dict(model, shapedirs=Ch(model["shapedirs"]), J_regressor=scipy.sparse.csc_matrix(model["J_regressor"]))
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(official, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy.ch")  # loading must not need it

    betas = rng.normal(size=10)
    from shared.skeleton import regress_rest_joints

    expected = regress_rest_joints(model, betas)
    np.testing.assert_allclose(Skeleton.from_smpl_model(path, betas).rest_positions(), expected, atol=1e-12)


def test_missing_smpl_model_names_where_to_get_it(tmp_path):
    from shared.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="SMPL model file not found") as info:
        Skeleton.from_smpl_model(tmp_path / "nope.pkl")
    assert "smpl.is.tue.mpg.de" in info.value.hint
