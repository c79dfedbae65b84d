"""Sampling: shapes, reproducibility, one pass per step (GFT), editing, long songs, errors, progress."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.motion_expert.config import MotionExpertConfig
from backend.motion_expert.denoiser import MotionDenoiser
from backend.motion_expert.pipeline import MotionExpertPipeline, Window, plan_windows, seam_velocity_jumps
from backend.progress import JobContext
from shared.errors import InvalidInputError, JobCancelledError
from shared.keep import KeepMask, KeepSpec

from .conftest import dance_motion


def test_sampling_shape_finite_and_reproducible(tiny_pipeline, music):
    first = tiny_pipeline(music[:50], genre="Jazz", seed=11)
    again = tiny_pipeline(music[:50], genre="Jazz", seed=11)
    other = tiny_pipeline(music[:50], genre="Jazz", seed=12)
    assert first.num_frames == 50 and first.fps == 30.0
    assert first.poses.shape == (50, 24, 3) and first.contacts.shape == (50, 4)
    assert np.isfinite(first.poses).all() and np.isfinite(first.trans).all()
    assert np.array_equal(first.poses, again.poses) and np.array_equal(first.trans, again.trans)
    assert not np.allclose(first.poses, other.poses)
    assert first.metadata["genre"] == "Jazz" and first.metadata["seed"] == 11


def test_genre_none_is_drawn_from_the_seed(tiny_pipeline, music):
    assert tiny_pipeline.resolve_genre(None, 5) == tiny_pipeline.resolve_genre("auto", 5)
    assert tiny_pipeline.resolve_genre("hiphop", 0) == 5
    with pytest.raises(InvalidInputError, match="unknown genre"):
        tiny_pipeline(music[:20], genre="polka")


def test_gft_makes_one_network_pass_per_step_and_cfg_two(tiny_pipeline, music):
    batches = []
    hook = tiny_pipeline.model.final_layer.register_forward_hook(lambda m, i, o: batches.append(o.shape[0]))
    try:
        tiny_pipeline(music[:30], num_inference_steps=5, guidance="gft")
        assert batches == [1] * 5
        batches.clear()
        tiny_pipeline(music[:30], num_inference_steps=5, guidance="cfg", cfg_weight=2.0)
        assert batches == [2] * 5
    finally:
        hook.remove()


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((30, 34), np.float32), "must be \\(frames, 35\\)"),
        (np.full((30, 35), np.nan, np.float32), "NaN"),
        (np.zeros((1, 35), np.float32), "at least 2"),
    ],
)
def test_bad_music_features_are_refused(tiny_pipeline, bad, match):
    with pytest.raises(InvalidInputError, match=match):
        tiny_pipeline(bad)


def test_bad_options_are_refused(tiny_pipeline, music):
    with pytest.raises(InvalidInputError, match="num_inference_steps"):
        tiny_pipeline(music[:20], num_inference_steps=0)
    with pytest.raises(InvalidInputError, match="guidance_beta"):
        tiny_pipeline(music[:20], guidance_beta=0.0)


def test_progress_and_cancel(tiny_pipeline, music):
    reports = []
    tiny_pipeline(music[:20], num_inference_steps=3, ctx=JobContext(report=lambda f, m: reports.append(f)))
    assert reports == sorted(reports) and reports[-1] == 1.0 and len(reports) >= 3
    with pytest.raises(JobCancelledError):
        tiny_pipeline(music[:20], ctx=JobContext(is_cancelled=lambda: True))


def test_inpainting_keeps_locked_frames_exactly(tiny_pipeline, music):
    edited = dance_motion(60, seed=4)
    frames = np.zeros(60, dtype=bool)
    frames[:15] = frames[45:] = True
    result = tiny_pipeline(music[:60], seed=2, keep=KeepSpec(edited, KeepMask.regenerate(60, frames=~frames)))
    assert np.array_equal(result.poses[frames], edited.poses[frames])
    assert np.array_equal(result.trans[frames], edited.trans[frames])
    assert not np.allclose(result.poses[20:40], edited.poses[20:40], atol=1e-3)  # the rest is regenerated


def test_inpainting_keeps_locked_joints_exactly(tiny_pipeline, music):
    edited = dance_motion(40, seed=5)
    joints = np.zeros(24, dtype=bool)
    joints[[12, 15, 16, 17, 18, 19]] = True  # neck, head, shoulders, elbows
    keep = KeepSpec(edited, KeepMask.regenerate(40, joints=~joints, translation=True))
    result = tiny_pipeline(music[:40], seed=3, keep=keep)
    assert np.array_equal(result.poses[:, joints], edited.poses[:, joints])
    assert not np.allclose(result.poses[:, ~joints], edited.poses[:, ~joints], atol=1e-3)
    assert not np.allclose(result.trans, edited.trans, atol=1e-3)


def test_inpainting_keeps_every_cell_outside_a_block(tiny_pipeline, music):
    """Frames 10-30 x the legs regenerated; every other rotation and the whole translation kept exactly."""
    edited = dance_motion(40, seed=8)
    legs = np.zeros(24, dtype=bool)
    legs[[1, 2, 4, 5, 7, 8, 10, 11]] = True
    mask = KeepMask.regenerate(40, frames=(np.arange(40) >= 10) & (np.arange(40) < 30), joints=legs)
    result = tiny_pipeline(music[:40], seed=3, keep=KeepSpec(edited, mask))
    assert np.array_equal(result.poses[mask.joints], edited.poses[mask.joints])
    assert np.array_equal(result.trans, edited.trans)
    assert not np.allclose(result.poses[12:28][:, legs], edited.poses[12:28][:, legs], atol=1e-3)


def test_inpainting_resamples_a_motion_at_another_rate(tiny_pipeline, music):
    edited = dance_motion(80, fps=60.0, seed=6)  # 79/60 s -> 40 frames at 30 fps
    frames = np.zeros(80, dtype=bool)
    frames[:20] = True
    result = tiny_pipeline(music[:40], keep=KeepSpec(edited, KeepMask.regenerate(80, frames=~frames)))
    reference = edited.resample(30.0)
    assert np.array_equal(result.poses[:10], reference.poses[:10])
    with pytest.raises(InvalidInputError, match="frames"):
        tiny_pipeline(music[:30], keep=KeepSpec(edited, KeepMask.regenerate(80)))


def test_window_plan_covers_the_song_with_full_overlaps():
    assert plan_windows(100, 120, 10, 10) == [Window(0, 100)]
    windows = plan_windows(1000, 300, 30, 30)
    assert windows[0].start == 0 and windows[-1].stop == 1000
    for previous, window in zip(windows[:-1], windows[1:]):
        assert window.stop - window.start == 300
        assert previous.stop - window.start == window.pinned + window.blend >= 60
    with pytest.raises(InvalidInputError, match="overlap"):
        plan_windows(1000, 50, 30, 30)


class SmoothingDenoiser(MotionDenoiser):
    """A stand-in denoiser whose x0 is a heavily smoothed copy of x_t: every window it makes is smooth, so
    any roughness in the output comes from how windows are joined."""

    def forward(self, x, music, genre, timesteps, beta, keep_music=None, memory=None):
        kernel = torch.ones(x.shape[-1], 1, 9, dtype=x.dtype) / 9
        smooth = x.transpose(1, 2)
        for _ in range(4):
            smooth = torch.nn.functional.conv1d(torch.nn.functional.pad(smooth, (4, 4), mode="replicate"), kernel,
                                                groups=x.shape[-1])  # fmt: skip
        return smooth.transpose(1, 2)


def test_long_song_stitching_is_continuous(normalizer, music):
    torch.manual_seed(0)
    config = MotionExpertConfig.tiny(horizon=60)
    pipeline = MotionExpertPipeline(SmoothingDenoiser(config, mamba_backend="torch"), normalizer)
    long_music = np.tile(music, (2, 1))[:250]
    motion = pipeline(long_music, seed=1, num_inference_steps=6, context_frames=10, blend_frames=20)
    assert motion.num_frames == 250 and len(motion.metadata["windows"]) >= 5
    seam, inside = seam_velocity_jumps(motion)

    # the same windows butted together without pinning or blending jump at every seam
    naive = pipeline(long_music, seed=1, num_inference_steps=6, context_frames=0, blend_frames=0)
    naive_seam, naive_inside = seam_velocity_jumps(naive)
    print(f"velocity jump (m/frame): stitched seams {seam:.4f} vs inside {inside:.4f}; "
          f"unstitched seams {naive_seam:.4f} vs inside {naive_inside:.4f}")
    assert seam <= 2.0 * inside
    assert naive_seam > 10 * seam and naive_seam > 10 * naive_inside
