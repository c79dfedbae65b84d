"""analyze_music: EDGE's 35-d features exactly, beats, bars, sections, clipping, progress."""

from __future__ import annotations

import numpy as np
import pytest

from backend.features import analyze_music
from backend.progress import JobContext
from shared.errors import InvalidInputError, JobCancelledError

from .conftest import SR, click_track


def _tempo_close(found: float, expected: float, tolerance: float = 0.04) -> bool:
    """Octave-invariant tempo match (trackers may lock onto half or double time)."""
    return any(abs(found * factor - expected) <= tolerance * expected for factor in (0.5, 1.0, 2.0))


@pytest.mark.parametrize("bpm", [90, 120, 150])
def test_click_track_beats_and_tempo(bpm, write_wav):
    features = analyze_music(write_wav(f"c{bpm}.wav", click_track(bpm, 12.0)))
    assert _tempo_close(features.tempo, bpm)
    period = np.median(np.diff(features.beat_times))
    assert _tempo_close(60.0 / period, bpm)
    # Beats sit on clicks: every beat within 2 frames of a click time (librosa may add a stray beat in
    # the last 0.7 s, where the onset envelope is cut off).
    clicks = np.arange(0.25, 12.0, 60.0 / bpm)
    inner = features.beat_times[features.beat_times < 11.3]
    assert len(inner) >= np.sum(clicks < 11.3) - 1
    assert np.abs(inner[:, None] - clicks[None, :]).min(axis=1).max() <= 2.0 / 30


def test_edge35_layout_and_shapes(write_wav):
    features = analyze_music(write_wav("c.wav", click_track(120, 6.0)))
    num_samples = int(round(6.0 * 15360))
    assert features.edge35.shape == (1 + num_samples // 512, 35) == (features.num_frames, 35)
    assert features.edge35.dtype == np.float32
    np.testing.assert_array_equal(features.edge35[:, 0], features.onset_env)
    beat_frames = np.round(features.beat_times * 30).astype(int)
    np.testing.assert_array_equal(np.flatnonzero(features.edge35[:, 34]), beat_frames)
    assert set(np.unique(features.edge35[:, 33])) <= {0.0, 1.0} and features.edge35[:, 33].sum() > 5
    assert features.energy.shape == (features.num_frames,) and features.fps == 30.0
    assert abs(features.duration - 6.0) < 1e-3


def test_edge35_matches_edges_own_recipe(write_wav):
    """The features equal EDGE's baseline_features.extract, recomputed here step by step with librosa."""
    import librosa

    path = write_wav("edge.wav", click_track(110, 8.0, accent_every=4))
    sr, hop = 15360, 512
    data, _ = librosa.load(path, sr=sr)
    envelope = librosa.onset.onset_strength(y=data, sr=sr)
    mfcc = librosa.feature.mfcc(y=data, sr=sr, n_mfcc=20).T
    chroma = librosa.feature.chroma_cens(y=data, sr=sr, hop_length=hop, n_chroma=12).T
    peaks = librosa.onset.onset_detect(onset_envelope=envelope.flatten(), sr=sr, hop_length=hop)
    start_bpm = librosa.feature.tempo(y=librosa.load(path)[0])[0]
    _, beats = librosa.beat.beat_track(
        onset_envelope=envelope, sr=sr, hop_length=hop, start_bpm=start_bpm, tightness=100
    )
    peak_onehot = np.zeros_like(envelope)
    peak_onehot[peaks] = 1.0
    beat_onehot = np.zeros_like(envelope)
    beat_onehot[beats] = 1.0
    expected = np.concatenate([envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1)

    features = analyze_music(path)
    assert features.start_bpm == pytest.approx(start_bpm)
    np.testing.assert_allclose(features.edge35, expected, rtol=1e-4, atol=1e-4)


def test_aist_music_name_gives_the_tracker_prior(tmp_path, write_wav):
    path = write_wav("gBR_sBM_cAll_d04_mBR3_ch01.wav", click_track(110, 5.0))
    assert analyze_music(path).start_bpm == 110.0


def test_downbeats_follow_the_accented_beat(write_wav):
    audio = click_track(120, 16.0, accent_every=4, offset=0.25 + 0.5)  # accents on beats 0, 4, 8 … of the clicks
    features = analyze_music(write_wav("accents.wav", audio))
    accents = 0.75 + np.arange(0, 40, 4) * 0.5
    hits = np.abs(features.downbeat_times[:, None] - accents[None, :]).min(axis=1)
    assert np.mean(hits < 0.07) >= 0.8
    assert np.allclose(np.diff(features.downbeat_times), 2.0, atol=0.1)


def _chord(freqs, seconds, noise=0.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    rng = np.random.default_rng(seed)
    return (0.3 * tone + noise * rng.standard_normal(len(t))).astype(np.float32)


def test_sections_find_the_change_and_the_repeat(write_wav):
    """A–B–A music (different chord and timbre in B) over steady clicks: two boundaries, A labelled twice."""
    part = 16.0  # 8 bars at 120 BPM
    a = _chord([261.6, 329.6, 392.0], part)
    b = _chord([370.0, 466.2, 554.4], part, noise=0.08, seed=1)
    audio = np.concatenate([a, b, a]) + click_track(120, 3 * part, offset=0.0)
    features = analyze_music(write_wav("aba.wav", audio))
    inner = features.section_bounds[1:-1]
    assert len(inner) >= 2
    for change in (part, 2 * part):
        assert np.abs(inner - change).min() <= 1.1  # within about a bar (boundaries snap to downbeats)
    labels = features.section_labels
    first = labels[np.searchsorted(features.section_bounds, 2.0, side="right") - 1]
    middle = labels[np.searchsorted(features.section_bounds, 24.0, side="right") - 1]
    last = labels[np.searchsorted(features.section_bounds, 40.0, side="right") - 1]
    assert first == last != middle
    assert features.section_bounds[0] == 0.0 and features.section_bounds[-1] == features.duration


def test_start_and_duration_clip_the_music(write_wav):
    path = write_wav("long.wav", click_track(120, 10.0))
    features = analyze_music(path, start_s=2.0, duration_s=5.0)
    assert abs(features.duration - 5.0) < 1e-3
    assert features.num_frames == 1 + int(5.0 * 15360) // 512
    with pytest.raises(InvalidInputError, match="outside"):
        analyze_music(path, start_s=11.0)
    with pytest.raises(InvalidInputError, match="at least"):
        analyze_music(path, start_s=9.8)


def test_in_memory_audio_is_accepted():
    audio = click_track(120, 5.0)
    from_array = analyze_music((np.stack([audio, audio], axis=1), SR))
    assert _tempo_close(from_array.tempo, 120)
    with pytest.raises(InvalidInputError):
        analyze_music((np.zeros((2, 2, 2)), SR))


def test_progress_and_cancellation(write_wav):
    path = write_wav("p.wav", click_track(120, 4.0))
    seen = []
    analyze_music(path, ctx=JobContext(report=lambda f, m: seen.append(f)))
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 4
    with pytest.raises(JobCancelledError):
        analyze_music(path, ctx=JobContext(is_cancelled=lambda: True))


def test_real_music(real_tracks):
    features = real_tracks["drascula-track18.ogg"]  # its first 45 s
    assert _tempo_close(features.tempo, 144, tolerance=0.06)
    assert features.edge35.shape == (1351, 35)
    assert len(features.downbeat_times) >= 15
