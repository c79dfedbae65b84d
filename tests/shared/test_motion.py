import numpy as np
import pytest

from shared.errors import MotionFormatError
from shared.motion import Motion


def make_motion(rng, frames=40, fps=30.0, **kw) -> Motion:
    return Motion(poses=rng.normal(scale=0.4, size=(frames, 24, 3)), trans=rng.normal(size=(frames, 3)), fps=fps, **kw)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"poses": np.zeros((10, 23, 3))}, "poses"),
        ({"poses": np.zeros((0, 24, 3)), "trans": np.zeros((0, 3))}, "poses"),
        ({"poses": np.array([["a"] * 3] * 24)[None]}, "poses"),
        ({"trans": np.zeros((9, 3))}, "trans"),
        ({"fps": 0}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"fps": "fast"}, "fps"),
        ({"betas": np.zeros(11)}, "betas"),
        ({"gender": "robot"}, "gender"),
        ({"contacts": np.zeros((10, 3))}, "contacts"),
        ({"metadata": ["not", "a", "dict"]}, "metadata"),
    ],
)
def test_validation_names_the_field(changes, field):
    fields = dict(poses=np.zeros((10, 24, 3)), trans=np.zeros((10, 3)), fps=30.0)
    fields.update(changes)
    with pytest.raises(MotionFormatError) as info:
        Motion(**fields)
    assert info.value.field == field
    assert f"`{field}`" in str(info.value)


def test_nan_is_rejected_with_its_location():
    poses = np.zeros((10, 24, 3))
    poses[4, 7, 1] = np.nan
    with pytest.raises(MotionFormatError, match=r"NaN or Inf \(first at index \(4, 7, 1\)\)"):
        Motion(poses=poses, trans=np.zeros((10, 3)), fps=30)
    with pytest.raises(MotionFormatError, match="trans"):
        Motion(poses=np.zeros((2, 24, 3)), trans=[[0, 0, 0], [0, np.inf, 0]], fps=30)


def test_flat_72_poses_and_dtype_are_normalised(rng):
    m = Motion(poses=rng.normal(size=(5, 72)), trans=np.zeros((5, 3), dtype=np.float64), fps=60)
    assert m.poses.shape == (5, 24, 3) and m.poses.dtype == np.float32 and m.trans.dtype == np.float32
    assert m.duration == pytest.approx(5 / 60)


def test_resample_keeps_the_path_and_round_trips(rng):
    # a smooth motion so that linear/slerp resampling is exact enough to invert
    t = np.linspace(0, 2 * np.pi, 61)[:, None, None]
    poses = 0.5 * np.sin(t + np.arange(24)[None, :, None] * 0.1 + np.arange(3)) * np.ones((61, 24, 3))
    m = Motion(poses=poses, trans=np.concatenate([np.sin(t[:, :, 0]), np.zeros((61, 2))], 1), fps=30)
    up = m.resample(60)
    assert up.num_frames == 121 and up.fps == 60
    np.testing.assert_allclose(up.poses[::2], m.poses, atol=1e-5)  # original frames are kept
    down = up.resample(30)
    assert down.allclose(m, rot_atol=1e-5, trans_atol=1e-5)


def test_resample_interpolates_halfway_by_slerp():
    poses = np.zeros((2, 24, 3))
    poses[1, 5] = [0.0, 1.0, 0.0]
    m = Motion(poses=poses, trans=np.array([[0, 0, 0], [1, 0, 0]]), fps=1)
    mid = m.resample(2)
    np.testing.assert_allclose(mid.poses[1, 5], [0, 0.5, 0], atol=1e-6)
    np.testing.assert_allclose(mid.trans[1], [0.5, 0, 0], atol=1e-6)


def test_slice_copy_and_allclose(rng):
    m = make_motion(rng, contacts=np.ones((40, 4)))
    part = m.slice(10, 20)
    assert part.num_frames == 10 and part.contacts.shape == (10, 4)
    other = m.copy()
    other.poses[3, 3, 0] += 1e-3
    assert m.allclose(m.copy()) and not m.allclose(other)
    # 2π-equivalent axis-angle vectors are the same rotation
    wrapped = m.copy()
    axis = wrapped.poses[0, 1] / np.linalg.norm(wrapped.poses[0, 1])
    wrapped.poses[0, 1] = wrapped.poses[0, 1] - 2 * np.pi * axis
    assert m.allclose(wrapped, rot_atol=1e-5)
    with pytest.raises(MotionFormatError):
        m.slice(50, 60)
