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


# -- the span rules: regenerated_span and fit_length -------------------------------------------------------


def test_fit_length_pads_or_trims_within_the_tolerance_and_refuses_more():
    from shared.keep import FIT_TOLERANCE_FRAMES, fit_length

    values = np.arange(20, dtype=float)[:, None]
    np.testing.assert_array_equal(fit_length(values, 18), values[:18])
    padded = fit_length(values, 20 + FIT_TOLERANCE_FRAMES)
    assert len(padded) == 20 + FIT_TOLERANCE_FRAMES and (padded[20:] == values[-1]).all()
    motion = fit_length(_motion(20, 0), 21)
    assert motion.num_frames == 21 and (motion.poses[20] == motion.poses[19]).all() and len(motion.contacts) == 21
    for wrong in (20 - FIT_TOLERANCE_FRAMES - 1, 20 + FIT_TOLERANCE_FRAMES + 1):
        with pytest.raises(InvalidInputError, match=f"has 20 frames but the motion to edit {wrong}") as err:
            fit_length(values, wrong)
        assert "shorter span" in err.value.hint


def test_regenerated_span_is_the_kept_motion_and_is_checked_against_the_music():
    from shared.keep import KeepSpec, regenerated_span

    keep = KeepSpec(_motion(90, 0), KeepMask.regenerate(90))  # 3 s at 30 fps
    assert regenerated_span(None, None) is None and regenerated_span(None, 2.5) == 2.5
    assert regenerated_span(keep, None) == pytest.approx(3.0)
    assert regenerated_span(keep, 3.0 + 1 / 30, available_s=3.1) == pytest.approx(3.0 + 1 / 30)  # rounding
    with pytest.raises(InvalidInputError, match="`duration_s` = 5.00 s but the motion to edit"):
        regenerated_span(keep, 5.0)
    with pytest.raises(InvalidInputError, match="lasts 3.00 s but 'a.wav' has only 1.20 s") as err:
        regenerated_span(keep, None, available_s=1.2, music="'a.wav'")
    assert "start earlier" in err.value.hint


def test_keep_spec_at_another_frame_rate_resamples_motion_and_mask_together():
    from shared.keep import KeepSpec

    keep = KeepSpec(_motion(60, 1), KeepMask.regenerate(60, frames=np.arange(60) >= 30))
    assert keep.at_fps(30.0) is keep
    half = keep.at_fps(15.0)
    assert half.motion.num_frames == half.mask.num_frames == 30
    np.testing.assert_array_equal(half.mask.frames_fully_kept, np.arange(30) < 15)
