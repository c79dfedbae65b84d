import os
import pickle

import numpy as np
import pytest

from shared.atomic import atomic_write, atomic_write_bytes
from shared.axes import y_up_to_z_up, z_up_to_y_up
from shared.errors import InvalidInputError, MotionFormatError, NotFoundError
from shared.kinematics import forward_kinematics
from shared.motion import Motion
from shared.motion_io import load_motion, save_motion
from shared.safe_pickle import UnsafePickleError, safe_pickle_loads


@pytest.fixture
def motion(rng):
    return Motion(
        poses=rng.normal(scale=0.4, size=(30, 24, 3)), trans=rng.normal(size=(30, 3)), fps=30,
        betas=rng.normal(size=10), gender="female", contacts=(rng.random((30, 4)) > 0.5).astype(np.float32),
        metadata={"generator": "test", "seed": 3},
    )


def test_canonical_npz_round_trip(tmp_path, motion):
    path = save_motion(motion, tmp_path / "dance.npz")
    back = load_motion(path)
    assert back.allclose(motion, rot_atol=1e-6, trans_atol=1e-6)
    np.testing.assert_array_equal(back.contacts, motion.contacts)
    assert back.gender == "female" and back.metadata == {"generator": "test", "seed": 3}
    np.testing.assert_allclose(back.betas, motion.betas, atol=1e-6)
    with np.load(path) as data:  # the keys the CLI contract promises
        assert data["poses"].shape == (30, 24, 3) and data["trans"].shape == (30, 3)
        assert float(data["fps"]) == 30.0 and data["betas"].shape == (10,)


def test_amass_npz_is_z_up_and_converted(tmp_path, motion):
    poses_z, trans_z = y_up_to_z_up(motion.poses, motion.trans)
    full = np.zeros((30, 156))
    full[:, :66] = poses_z[:, :22].reshape(30, 66)
    np.savez(tmp_path / "amass.npz", poses=full, trans=trans_z, betas=np.zeros(16), mocap_framerate=120.0, gender="male")
    back = load_motion(tmp_path / "amass.npz")
    assert back.fps == 120.0 and back.gender == "male"
    # same body joints (hands are not in SMPL-H's first 22)
    ours = forward_kinematics(back.poses, back.trans)[:, :22]
    expected = forward_kinematics(motion.poses, motion.trans)[:, :22]
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_aist_pickle_divides_by_scaling_and_is_60fps(tmp_path, motion):
    data = {"smpl_poses": motion.poses.reshape(30, 72).astype(np.float64), "smpl_trans": motion.trans * 93.0,
            "smpl_scaling": np.array([93.0]), "smpl_loss": 0.1}
    (tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl").write_bytes(pickle.dumps(data))
    back = load_motion(tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl")
    assert back.fps == 60.0
    np.testing.assert_allclose(back.trans, motion.trans, atol=1e-5)


def test_edge_output_pickle_is_z_up(tmp_path, motion):
    poses_z, trans_z = y_up_to_z_up(motion.poses, motion.trans)
    full_pose = forward_kinematics(motion.poses, motion.trans)[..., [0, 2, 1]] * [1, -1, 1]
    data = {"smpl_poses": poses_z.reshape(30, 72), "smpl_trans": trans_z, "full_pose": full_pose}
    (tmp_path / "out.pkl").write_bytes(pickle.dumps(data))
    back = load_motion(tmp_path / "out.pkl")
    assert back.fps == 30.0 and back.metadata["source_format"] == "edge"
    assert back.allclose(motion, rot_atol=1e-5, trans_atol=1e-5)
    # the Z-up joints in the file agree with our FK turned to Z-up
    np.testing.assert_allclose(forward_kinematics(back.poses, back.trans)[..., [0, 2, 1]] * [1, -1, 1], full_pose, atol=1e-5)


def test_axis_conversions_invert(motion):
    p, t = z_up_to_y_up(*y_up_to_z_up(motion.poses, motion.trans))
    assert Motion(poses=p, trans=t, fps=30).allclose(motion, 1e-6, 1e-6)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/mace_pwned",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    if os.path.exists("/tmp/mace_pwned"):
        os.remove("/tmp/mace_pwned")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"smpl_poses": Exploit()}))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        load_motion(tmp_path / "evil.pkl")
    assert not os.path.exists("/tmp/mace_pwned")


def test_safe_pickle_reads_arrays_and_containers():
    data = {"a": np.arange(5, dtype=np.int16), "b": [1.5, "x", (None, True)], "c": np.float32(2.0)}
    back = safe_pickle_loads(pickle.dumps(data))
    np.testing.assert_array_equal(back["a"], data["a"])
    assert back["b"] == [1.5, "x", (None, True)] and back["c"] == np.float32(2.0)
    with pytest.raises(InvalidInputError, match="not a readable pickle"):
        safe_pickle_loads(b"\x80\x04garbage")


@pytest.mark.parametrize(
    "content, error",
    [(b"", InvalidInputError), (b"not a zip", InvalidInputError)],
)
def test_corrupt_files_give_clear_errors(tmp_path, content, error):
    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(error, match="bad.npz"):
        load_motion(tmp_path / "bad.npz")


def test_missing_file_wrong_suffix_and_missing_keys(tmp_path):
    with pytest.raises(NotFoundError):
        load_motion(tmp_path / "nope.npz")
    (tmp_path / "x.bvh").write_text("HIERARCHY")
    with pytest.raises(InvalidInputError, match="unsupported motion file type"):
        load_motion(tmp_path / "x.bvh")
    np.savez(tmp_path / "nofps.npz", poses=np.zeros((3, 72)))
    with pytest.raises(MotionFormatError, match="fps"):
        load_motion(tmp_path / "nofps.npz")
    np.savez(tmp_path / "nan.npz", poses=np.full((3, 72), np.nan), fps=30)
    with pytest.raises(MotionFormatError, match=r"NaN.*nan.npz"):
        load_motion(tmp_path / "nan.npz")


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "keep.txt"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]  # no temp file left behind


def test_atomic_files_get_ordinary_permissions(tmp_path):
    target = tmp_path / "shared.bin"
    atomic_write_bytes(target, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)
