"""shared.keep: the one cell mask of what regeneration keeps."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import InvalidInputError
from shared.keep import ROOT_TRANSLATION, KeepMask
from shared.motion import Motion


def _motion(num_frames: int, seed: int) -> Motion:
    rng = np.random.default_rng(seed)
    return Motion(poses=rng.normal(size=(num_frames, 24, 3)), trans=rng.normal(size=(num_frames, 3)), fps=30.0,
                  contacts=rng.uniform(size=(num_frames, 4)))


def test_regenerate_selects_frames_times_joints():
    frames = np.arange(10) >= 6
    joints = np.zeros(24, bool)
    joints[[18, 20]] = True
    mask = KeepMask.regenerate(10, frames=frames, joints=joints)
    assert mask.cells.shape == (10, 25)
    assert (~mask.cells).sum() == 4 * 2  # only the selected block is free
    assert not mask.cells[7, 18] and mask.cells[7, 17] and mask.cells[2, 18]
    assert mask.translation.all()  # a few bones: the dancer's path stays
    whole = KeepMask.regenerate(10, frames=frames)  # every bone: the path is regenerated too
    assert not whole.cells[7, ROOT_TRANSLATION] and whole.cells[2, ROOT_TRANSLATION]
    np.testing.assert_array_equal(whole.frames_fully_kept, ~frames)


def test_merge_takes_kept_cells_bit_exactly_and_the_rest_from_new():
    kept, new = _motion(8, 1), _motion(8, 2)
    joints = np.zeros(24, bool)
    joints[5] = True
    mask = KeepMask.regenerate(8, frames=np.arange(8) < 4, joints=joints, translation=True)
    merged = mask.merge(kept, new)
    assert np.array_equal(merged.poses[mask.joints], kept.poses[mask.joints])
    assert np.array_equal(merged.poses[~mask.joints], new.poses[~mask.joints])
    assert np.array_equal(merged.trans[4:], kept.trans[4:]) and np.array_equal(merged.trans[:4], new.trans[:4])
    assert np.array_equal(merged.contacts[4:], kept.contacts[4:]) and np.array_equal(merged.contacts[:4], new.contacts[:4])
    with pytest.raises(InvalidInputError, match="9-frame keep mask"):
        KeepMask.regenerate(9).merge(kept, new)


def test_resample_and_validation():
    mask = KeepMask.regenerate(60, frames=np.arange(60) >= 30)
    half = mask.resample(30, fps_from=60.0, fps_to=30.0)
    np.testing.assert_array_equal(half.frames_fully_kept, np.arange(30) < 15)
    with pytest.raises(InvalidInputError, match=r"\(frames, 25\) bool"):
        KeepMask(np.ones((4, 24), bool))
