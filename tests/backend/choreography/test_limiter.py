"""The speed limiter: no joint faster than real dancers' joints, beats and planted feet kept."""

from __future__ import annotations

import numpy as np

from backend.choreography import choreograph
from backend.choreography.limiter import SPEED_LIMITS, retime, speed_ratio
from backend.evaluation.beat_align import beat_align_score
from backend.evaluation.protocol import CLEAN


def test_retime_slows_fast_frames_and_keeps_every_beat_in_place():
    positions = np.arange(0.0, 4.0, 0.1)  # 10 frames a beat
    ratio = np.full(len(positions) - 1, 0.5)
    ratio[12:15] = 2.0  # too fast in the middle of beat 1
    new = retime(positions, ratio)
    assert np.all(np.diff(new) > 0)
    for beat in range(4):  # the frame that started each beat still sits on it
        frame = beat * 10
        assert abs(new[frame] - positions[frame]) < 1e-9
    advance, old = np.diff(new), np.diff(positions)
    np.testing.assert_allclose(advance[12:15], old[12:15] / 2.0)  # now exactly at the limit
    assert np.all(advance[10:20][np.r_[0:2, 5:10]] > old[10:20][np.r_[0:2, 5:10]])  # the rest gave time
    assert np.all(advance[ratio * advance / old > 1.0 + 1e-9] == 0)  # nothing over the limit any more
    np.testing.assert_allclose(retime(positions, np.full(len(ratio), 0.9)), positions)  # nothing to do


def test_real_music_stays_within_real_joint_speeds_and_on_the_beat(shared_data, real_tracks):
    """On real music the fastest joints stay at the real takes' 99.9th percentile (the limiter's limits,
    measured in ../shared/data/motion), and the dance still beats itself shifted by half a beat."""
    real = []
    for path in sorted((shared_data / "motion").glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            real.append(np.linalg.norm(np.diff(data["joints"].astype(np.float64), axis=0), axis=-1) * 30.0)
    real_p999 = np.percentile(np.concatenate(real), 99.9, axis=0)
    assert np.all(SPEED_LIMITS <= real_p999 + 0.01)  # the limits are the measured figures (smaller side)
    for track in ("hyperrogue-hr3-caves.ogg", "drascula-track18.ogg"):
        features = real_tracks[track]
        for seed in range(2):
            motion, _ = choreograph(features, seed=seed)
            joints = motion.joint_positions()
            ratio = speed_ratio(joints, motion.fps)
            speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * motion.fps
            half = int(round(features.beat_period * features.fps / 2))
            late = np.concatenate([np.repeat(joints[:1], half, axis=0), joints[:-half]])
            aligned = beat_align_score(features.beat_times, joints, CLEAN)
            shifted = beat_align_score(features.beat_times, late, CLEAN)
            print(f"{track} seed {seed}: fastest joint {ratio.max():.2f} x its limit, frames over "
                  f"{(ratio > 1).mean():.4f}, p99.9 {np.percentile(speed, 99.9):.2f} m/s "
                  f"(real {np.percentile(np.concatenate(real), 99.9):.2f}), BAS {aligned:.3f} vs {shifted:.3f}")
            assert np.percentile(speed, 99.9) <= np.percentile(np.concatenate(real), 99.9)
            # A beat that is fast all through (a turn) can keep a few frames slightly over: under 1 % of the
            # frames, and never by much.
            assert (ratio > 1.0).mean() < 0.01
            assert ratio.max() < 1.25
            assert aligned > shifted


def test_retime_leaves_the_frames_of_calm_beats_exactly_where_they_were():
    """Only beats with a frame over the limit move (so the limiter's next pass re-renders only them)."""
    positions = np.cumsum(np.full(60, 0.1)) - 0.1  # 10 frames a beat, as float sums give them
    ratio = np.full(len(positions) - 1, 0.5)
    ratio[23:25] = 1.8  # beat 2 only
    new = retime(positions, ratio)
    moved = new != positions
    assert moved.any() and np.array_equal(np.flatnonzero(moved), np.flatnonzero(moved & (np.floor(positions + 1e-9) == 2)))


def test_the_limiter_re_renders_only_what_a_pass_changed(click_features):
    """With a ``Renderer`` each of the limiter's passes solves the rig only on frames whose pose parameters
    changed, and the result is bit-identical to rendering the final plan afresh. Over the click tracks and
    seeds a pass costs well under a full render."""
    from backend.choreography.limiter import render_within_limits
    from backend.choreography.planner import Planner
    from backend.choreography.rig import DanceRig
    from backend.choreography.synthesis import Renderer, render

    rig, shares = DanceRig(), []
    for bpm, features in click_features.items():
        for seed in range(3):
            planner = Planner(features, seed=seed)
            times = np.arange(features.num_frames) / features.fps
            options = dict(groove=planner.groove_gain(times), hit_tangent=planner.hit_tangent,
                           shape=planner.style.groove)
            renderer, calls = Renderer(rig, **options), []

            def counted(placed, positions):
                calls.append(1)
                return renderer(placed, positions)

            result, placements, positions = render_within_limits(
                planner.plan(), planner.grid.position(times), counted, features.fps)
            fresh = render(placements, positions, rig, **options)
            for got, want in zip(result, fresh):
                np.testing.assert_array_equal(got, want)
            if len(calls) > 1:  # the first call renders everything; the passes after it are what is measured
                passes = (renderer.frames_solved - features.num_frames) / ((len(calls) - 1) * features.num_frames)
                shares.append(passes)
    print(f"{len(shares)} dances with limiter passes; frames solved per pass, share of a full render: "
          f"mean {np.mean(shares):.2f} ± {np.std(shares):.2f}, worst {max(shares):.2f}")
    assert shares and np.mean(shares) < 0.5  # (typically 0.15 ± 0.06, the worst dance 0.23)
