"""Known-answer tests of the motion metrics: features, FID, diversity, BAS, PFC and FSR."""

from __future__ import annotations

import numpy as np
import pytest

from backend.evaluation import (
    CLEAN,
    COMPAT,
    beat_align_score,
    diversity,
    evaluate_samples,
    foot_skating_ratio,
    frechet_distance,
    geometric_features,
    kinetic_features,
    motion_beats,
    normalise_with_reference,
    physical_foot_contact,
)
from backend.evaluation.geometric import GEOMETRIC_DIM, GEOMETRIC_RELATIONS
from backend.evaluation.loading import MotionSample
from shared.errors import InvalidInputError
from shared.skeleton import LEFT_WRIST, RIGHT_WRIST

from .conftest import FPS, beat_dancer, bouncing_root, still, varied_dancer


# -- kinetic feature --------------------------------------------------------------------------------------
def reference_kinetic(positions: np.ndarray, dt: float, slip: bool, window: int = 2) -> np.ndarray:
    """Straight per-frame loop over the published definition (fairmotion KineticFeatures)."""
    frames, joints, _ = positions.shape
    out = []
    for j in range(joints):
        horizontal = vertical = energy = 0.0
        for i in range(1, frames):
            velocity, count = np.zeros(3), 0
            for k in range(i - window, i + window + 1):
                if k - 1 < 0 or k >= frames:
                    continue
                velocity += positions[k, j] - positions[k - 1, j]
                count += 1
            velocity /= count * dt
            horizontal += velocity[0] ** 2 + velocity[2] ** 2
            vertical += velocity[1] ** 2
            acceleration, count = np.zeros(3), 0
            for k in range(i - window, i + window + 1):
                if k - 1 < 0 or k + 1 >= frames:
                    continue
                v2 = (positions[k + 1, j] - positions[k, j]) / dt
                v1 = positions[k, j] - positions[k - 1, j] / dt if slip else (positions[k, j] - positions[k - 1, j]) / dt
                acceleration += (v2 - v1) / dt
                count += 1
            energy += np.linalg.norm(acceleration / count)
        out += [horizontal / (frames - 1), vertical / (frames - 1), energy / (frames - 1)]
    return np.array(out)


@pytest.mark.parametrize("protocol", [CLEAN, COMPAT], ids=["clean", "compat"])
def test_kinetic_matches_the_per_frame_definition(protocol, rng):
    joints = varied_dancer(rng, frames=40)
    expected = reference_kinetic(joints, protocol.kinetic_dt, protocol.kinetic_acceleration_slip)
    got = kinetic_features(joints, protocol)
    assert got.shape == (72,)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_kinetic_constant_velocity_has_known_energy():
    joints = still(60)
    joints[:, :, 0] += 0.02 * np.arange(60)[:, None]  # 0.02 m/frame = 0.6 m/s sideways at 30 fps
    feature = kinetic_features(joints, CLEAN).reshape(24, 3)
    np.testing.assert_allclose(feature[:, 0], 0.6**2, rtol=1e-9)
    np.testing.assert_allclose(feature[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(feature[:, 2], 0.0, atol=1e-9)


def test_compat_kinetic_differs_where_documented(rng):
    joints = varied_dancer(rng, frames=60)
    clean = kinetic_features(joints, CLEAN).reshape(24, 3)
    compat = kinetic_features(joints, COMPAT).reshape(24, 3)
    # Frame time 1/60 on 30 fps data: velocities ×2, kinetic energies ×4.
    np.testing.assert_allclose(compat[:, :2], 4.0 * clean[:, :2], rtol=1e-9)
    # The acceleration slip leaks absolute position: shifting the dancer changes compat, not clean.
    shifted = joints + np.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(kinetic_features(shifted, CLEAN), kinetic_features(joints, CLEAN), atol=1e-8)
    assert not np.allclose(kinetic_features(shifted, COMPAT)[2::3], compat[:, 2])


# -- geometric feature ------------------------------------------------------------------------------------
def test_geometric_feature_is_32_fractions(rng):
    feature = geometric_features(varied_dancer(rng), CLEAN)
    assert feature.shape == (GEOMETRIC_DIM,) == (32,)
    assert np.all((feature >= 0) & (feature <= 1))


def test_geometric_fast_wrist_and_still_body():
    fast_right_wrist = [i for i, (kind, names, _) in enumerate(GEOMETRIC_RELATIONS) if kind == "fast" and names == ("rwrist",)]
    joints = still(31)
    assert geometric_features(joints, CLEAN)[fast_right_wrist] == 0.0
    joints[:, RIGHT_WRIST, 0] += 0.1 * np.arange(31)  # 3 m/s
    assert geometric_features(joints, CLEAN)[fast_right_wrist] == 1.0


def test_geometric_compat_uses_a_fixed_120_fps_frame_time():
    fast_left_wrist = [i for i, (kind, names, _) in enumerate(GEOMETRIC_RELATIONS) if kind == "fast" and names == ("lwrist",)]
    joints = still(31)
    joints[:, LEFT_WRIST, 2] += (0.5 / FPS) * np.arange(31)  # 0.5 m/s: below the 2.5·hl ≈ 0.65 m/s threshold
    assert geometric_features(joints, CLEAN)[fast_left_wrist] == 0.0
    assert geometric_features(joints, COMPAT)[fast_left_wrist] == 1.0  # read as 2 m/s with dt = 1/120


# -- FID and diversity ------------------------------------------------------------------------------------
def test_frechet_distance_known_answer(rng):
    a = rng.normal(0.0, 1.0, size=(500, 3))
    b = rng.normal(2.0, 3.0, size=(400, 3))
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig_a, vec_a = np.linalg.eigh(ca)
    root_a = vec_a @ np.diag(np.sqrt(eig_a)) @ vec_a.T
    eig_m = np.linalg.eigvalsh(root_a @ cb @ root_a)
    expected += np.trace(ca) + np.trace(cb) - 2 * np.sum(np.sqrt(eig_m))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    # 1-D: (μ1-μ2)² + (σ1-σ2)²
    x, y = rng.normal(size=(300, 1)), rng.normal(size=(300, 1)) * 2 + 5
    sx, sy = x.std(ddof=1), y.std(ddof=1)
    assert frechet_distance(x, y) == pytest.approx((x.mean() - y.mean()) ** 2 + (sx - sy) ** 2, rel=1e-9)


def test_identical_sets_give_fid_zero(rng):
    samples = [MotionSample.from_joints(varied_dancer(rng), FPS, f"m{i}") for i in range(8)]
    for mode in ("clean", "compat"):
        report = evaluate_samples(samples, samples, mode)
        assert abs(report.generated["fid_k"]) < 1e-3
        assert abs(report.generated["fid_g"]) < 1e-3
        assert report.generated["div_k"] == pytest.approx(report.reference["div_k"])


def test_a_shared_cache_scores_the_reference_once_and_changes_no_number(rng, monkeypatch):
    from backend.evaluation import evaluate as evaluate_module

    reference = [MotionSample.from_joints(varied_dancer(rng), FPS, f"r{i}") for i in range(6)]
    sets = [[MotionSample.from_joints(varied_dancer(rng), FPS, f"g{k}{i}") for i in range(4)] for k in range(2)]
    fresh = [evaluate_samples(generated, reference, "clean").generated for generated in sets]
    scored = []
    original = evaluate_module.score_motion
    monkeypatch.setattr(evaluate_module, "score_motion",
                        lambda sample, *a: scored.append(sample.name) or original(sample, *a))
    cache = evaluate_module.EvalCache()
    cached = [evaluate_samples(generated, reference, "clean", cache=cache).generated for generated in sets]
    np.testing.assert_equal(cached, fresh)  # every number the same (BAS is NaN without music on both)
    assert sorted(scored) == sorted([s.name for s in reference] + [s.name for g in sets for s in g])
    # the same cache under the other protocol scores the reference again, under that protocol's rules
    compat = evaluate_samples(sets[0], reference, "compat", cache=cache)
    np.testing.assert_equal(compat.reference, evaluate_samples(sets[0], reference, "compat").reference)


def test_shifted_set_gives_large_fid(rng):
    features = rng.normal(size=(50, 5))
    ref, gen = normalise_with_reference(features, features + 3.0, eps=1e-10)
    assert frechet_distance(gen, ref) > 40.0  # |Δμ|² ≈ 5 · 9 in normalised units


def test_normalisation_handles_constant_reference_dimensions():
    reference = np.array([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]])
    generated = np.array([[3.0, 0.5]])
    ref_clean, gen_clean = normalise_with_reference(reference, generated, eps=None)
    assert gen_clean[0, 1] == pytest.approx(0.5)  # centred only
    _, gen_compat = normalise_with_reference(reference, generated, eps=1e-10)
    assert gen_compat[0, 1] == pytest.approx(0.5e10)  # the reference code's blow-up, reproduced
    np.testing.assert_allclose(ref_clean[:, 0].std(), 1.0)


def test_diversity_known_answers_and_copies(rng):
    assert diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    triangle = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    assert diversity(triangle) == pytest.approx(1.0)
    one = varied_dancer(rng)
    copies = [MotionSample.from_joints(one, FPS, f"copy{i}") for i in range(5)]
    varied = [MotionSample.from_joints(varied_dancer(rng), FPS, f"var{i}") for i in range(5)]
    report = evaluate_samples(copies, varied, "clean")
    assert report.generated["div_k"] == pytest.approx(0.0, abs=1e-9)
    assert report.generated["div_g"] == pytest.approx(0.0, abs=1e-9)
    assert report.reference["div_k"] > 1.0 and report.reference["div_g"] > 1.0


def test_sets_need_two_motions(rng):
    one = [MotionSample.from_joints(varied_dancer(rng), FPS, "only")]
    with pytest.raises(InvalidInputError, match="at least 2"):
        evaluate_samples(one, one * 2, "clean")


# -- Beat Align Score -------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [CLEAN, COMPAT], ids=["clean", "compat"])
def test_bas_on_beat_beats_half_a_beat_off(protocol):
    period = 0.5  # 120 BPM
    frames = 300
    beats = np.arange(0.0, frames / FPS, period)
    jitter = 0.3 / FPS  # keeps each stop off a frame boundary, where the speed curve has a flat minimum
    on_beat = beat_align_score(beats, beat_dancer(frames, period, phase_s=jitter), protocol)
    off_beat = beat_align_score(beats, beat_dancer(frames, period, phase_s=period / 2 + jitter), protocol)
    assert on_beat > 0.9
    assert off_beat < 0.2
    found = motion_beats(beat_dancer(frames, period, phase_s=jitter), protocol)
    found_s = found if protocol.bas_continuous_time else found / FPS
    interior = beats[(beats > 0.4) & (beats < frames / FPS - 0.4)]
    assert np.all(np.min(np.abs(found_s[None, :] - interior[:, None]), axis=1) < 1.5 / FPS)


def test_flat_speed_minima_count_in_clean_mode_only():
    period, frames = 0.5, 300
    beats = np.arange(0.0, frames / FPS, period)
    exact = beat_dancer(frames, period)  # stops exactly on frames: two equal speed samples around each stop
    assert beat_align_score(beats, exact, CLEAN) > 0.9  # 19 of 20 beats hit; the one at t = 0 cannot be
    found = motion_beats(exact, CLEAN)
    stops = np.array([0.5, 1.0, 1.5, 2.0])
    assert np.all(np.min(np.abs(found[None, :] - stops[:, None]), axis=1) <= 0.5 / FPS + 1e-9)
    assert beat_align_score(beats, exact, COMPAT) < 0.6  # strict minima of the reference miss most stops


def test_compat_smoothing_hides_fast_beats_under_slow_movement():
    """At 138 BPM the compat smoothing (5 frames at 30 fps) lets a slow arm sweep decide where the speed
    minima are; the clean smoothing (1/12 s) still finds the beat-rate stops."""
    period, frames = 60 / 138, 600
    joints = beat_dancer(frames, period, phase_s=0.3 / FPS, amplitude=0.05)
    t = np.arange(frames) / FPS
    joints[:, 16:24, 2] += 0.6 * np.sin(2 * np.pi * 0.25 * t)[:, None]  # both arms sweep forth and back every 4 s
    beats = np.arange(0.3 / FPS, frames / FPS, period)
    clean, compat = beat_align_score(beats, joints, CLEAN), beat_align_score(beats, joints, COMPAT)
    assert clean > 0.8
    assert compat < 0.4
    assert beat_align_score(beats + period / 2, joints, CLEAN) < 0.3


def test_bas_edge_cases():
    still_dancer = still(60)
    assert beat_align_score(np.array([0.5, 1.0]), still_dancer, CLEAN) == 0.0  # no motion beat at all
    assert np.isnan(beat_align_score(np.array([10.0, 11.0]), beat_dancer(60, 0.5), CLEAN))  # beats after the end


def test_bas_compat_counts_frames_and_clean_counts_seconds():
    # One music beat 2 frames from a motion beat: σ = 3 frames in compat; σ = 0.1 s = 3 frames at 30 fps in clean.
    joints = beat_dancer(90, 1.0, phase_s=1.0)
    compat_beat = motion_beats(joints, COMPAT)
    assert len(compat_beat) >= 1
    target = (compat_beat[0] + 2) / FPS
    compat = beat_align_score(np.array([target]), joints, COMPAT)
    assert compat == pytest.approx(np.exp(-4 / 18))
    clean = beat_align_score(np.array([target]), joints, CLEAN)
    assert clean == pytest.approx(np.exp(-(1.5**2) / 18), abs=0.05)  # the clean beat sits half a frame later


# -- PFC and FSR ------------------------------------------------------------------------------------------
def test_sliding_feet_raise_pfc_and_fsr():
    planted = bouncing_root(150)
    sliding = bouncing_root(150, feet_slide_m_per_frame=0.02)
    assert physical_foot_contact(planted, FPS) == pytest.approx(0.0, abs=1e-12)
    assert physical_foot_contact(sliding, FPS) > 1e-4
    for protocol in (CLEAN, COMPAT):
        assert foot_skating_ratio(planted, protocol) == (0.0, 0.0)
        left, right = foot_skating_ratio(sliding, protocol)
        assert left > 0.9 and right > 0.9


def test_fsr_ignores_feet_in_the_air():
    lifted = still(60)
    lifted[:, [7, 10], 1] += 0.3  # left foot held up while it moves
    lifted[:, [7, 10], 0] += 0.02 * np.arange(60)[:, None]
    left, right = foot_skating_ratio(lifted, CLEAN)
    assert np.isnan(left) and right == 0.0


def test_pfc_without_root_acceleration_is_zero():
    joints = still(40)
    joints[:, [7, 8, 10, 11], 0] += 0.05 * np.arange(40)[:, None]  # feet slide but the body never accelerates
    assert physical_foot_contact(joints, FPS) == 0.0
