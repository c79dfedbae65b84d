"""Bars and sections: the musical structure the choreographer plans phrases on.

* Downbeats: assume 4 beats a bar and pick the phase whose beats carry the most bass onsets and the
  largest harmony changes (chords and kick drums tend to change on "one").
* Sections: a beat-synchronous self-similarity matrix of timbre (MFCC) and harmony (chroma), Foote's
  checkerboard novelty along its diagonal, peaks at least ``MIN_SECTION_BEATS`` apart, snapped to bar starts.
  Sections whose blocks resemble each other get the same label, so a repeated chorus gets a repeated phrase.
"""

from __future__ import annotations

import numpy as np

BEATS_PER_BAR = 4
#: Half width of the checkerboard kernel, beats (two bars either side of a candidate boundary).
NOVELTY_HALF_WIDTH = 8
#: Sections are at least this many beats (four bars) long.
MIN_SECTION_BEATS = 16
#: Normalised block similarity above which two sections count as the same music.
REPEAT_SIMILARITY = 0.6


def estimate_downbeats(
    beat_times: np.ndarray, low_onset: np.ndarray, chroma: np.ndarray, fps: float
) -> np.ndarray:
    """Bar starts among the beats.

    Args:
        beat_times: (B,) seconds.
        low_onset: (T,) bass-band onset strength per frame.
        chroma: (T, 12) chroma per frame.
        fps: frame rate of ``low_onset`` and ``chroma``.
    Returns:
        (D,) float64 seconds: every 4th beat from the best phase.
    """
    beat_times = np.asarray(beat_times, dtype=np.float64)
    if len(beat_times) < 2 * BEATS_PER_BAR:
        return beat_times[::BEATS_PER_BAR].copy()
    frames = np.clip(np.round(beat_times * fps).astype(np.int64), 0, len(low_onset) - 1)
    # Bass onset at each beat (max over ±2 frames: the tracker's beats wobble by a frame or two).
    window = np.clip(frames[:, None] + np.arange(-2, 3)[None, :], 0, len(low_onset) - 1)
    bass = low_onset[window].max(axis=1)
    # Harmony change at each beat: mean chroma over the following beat minus over the preceding beat.
    edges = np.concatenate([[0], frames, [len(chroma)]])
    cumulative = np.concatenate([np.zeros((1, chroma.shape[1])), np.cumsum(chroma, axis=0)])
    spans = np.maximum(edges[1:] - edges[:-1], 1)
    means = (cumulative[edges[1:]] - cumulative[edges[:-1]]) / spans[:, None]  # (B + 1, 12)
    change = np.linalg.norm(means[1:] - means[:-1], axis=1)
    score = _zscore(bass) + _zscore(change)
    phase_scores = [score[p::BEATS_PER_BAR].mean() for p in range(BEATS_PER_BAR)]
    return beat_times[int(np.argmax(phase_scores)) :: BEATS_PER_BAR].copy()


def find_sections(
    features: np.ndarray, beat_frames: np.ndarray, downbeat_times: np.ndarray, fps: float, duration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Section edges and repeat labels.

    Args:
        features: (T, F) per-frame timbre/harmony features.
        beat_frames: (B,) int frame index of each beat.
        downbeat_times: (D,) seconds of the bar starts.
        fps: frame rate of ``features``.
        duration: seconds of music.
    Returns:
        (bounds (S + 1,) float64 seconds from 0 to ``duration``, labels (S,) int64).
    """
    beat_frames = np.asarray(beat_frames, dtype=np.int64)
    single = np.array([0.0, duration]), np.zeros(1, dtype=np.int64)
    if len(beat_frames) < 2 * MIN_SECTION_BEATS:
        return single
    # One column per beat interval.
    edges = np.concatenate([beat_frames, [len(features)]])
    cumulative = np.concatenate([np.zeros((1, features.shape[1])), np.cumsum(features, axis=0)])
    spans = np.maximum(edges[1:] - edges[:-1], 1)
    beat_features = (cumulative[edges[1:]] - cumulative[edges[:-1]]) / spans[:, None]  # (B, F)
    beat_features = (beat_features - beat_features.mean(axis=0)) / (beat_features.std(axis=0) + 1e-8)
    beat_features /= np.linalg.norm(beat_features, axis=1, keepdims=True) + 1e-8
    similarity = beat_features @ beat_features.T  # (B, B) cosine

    novelty = _checkerboard_novelty(similarity, NOVELTY_HALF_WIDTH)
    cut_beats = _pick_boundaries(novelty, MIN_SECTION_BEATS)
    if not cut_beats:
        return single
    cut_times = beat_frames[cut_beats] / fps
    if len(downbeat_times):
        nearest = np.abs(cut_times[:, None] - np.asarray(downbeat_times)[None, :]).argmin(axis=1)
        cut_times = np.asarray(downbeat_times)[nearest]
    bounds = np.unique(np.concatenate([[0.0], cut_times, [duration]]))
    bounds = bounds[(bounds >= 0.0) & (bounds <= duration)]
    beat_times = beat_frames / fps
    section_of_beat = np.searchsorted(bounds, beat_times, side="right") - 1
    labels = _repeat_labels(similarity, section_of_beat, len(bounds) - 1)
    return bounds.astype(np.float64), labels


def _checkerboard_novelty(similarity: np.ndarray, half: int) -> np.ndarray:
    """Foote novelty: correlation of a Gaussian-tapered checkerboard kernel along the diagonal."""
    n = len(similarity)
    offsets = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (offsets / (0.5 * half)) ** 2)
    kernel = np.outer(taper, taper) * np.sign(offsets)[:, None] * np.sign(offsets)[None, :]
    padded = np.pad(similarity, half, mode="constant")
    novelty = np.zeros(n)
    for i in range(half, n - half + 1):  # only where the kernel lies inside the song
        block = padded[i : i + 2 * half, i : i + 2 * half]
        novelty[i] = (kernel * block).sum()  # a boundary: high within-side, low cross-side similarity
    return novelty


def _pick_boundaries(novelty: np.ndarray, min_gap: int) -> list[int]:
    """Beat indices of strong novelty peaks, at least ``min_gap`` apart and from either end."""
    n = len(novelty)
    is_peak = np.zeros(n, dtype=bool)
    is_peak[1:-1] = (novelty[1:-1] > novelty[:-2]) & (novelty[1:-1] >= novelty[2:])
    threshold = novelty[novelty > 0].mean() + 0.5 * novelty[novelty > 0].std() if (novelty > 0).any() else np.inf
    chosen: list[int] = []
    for i in sorted(np.flatnonzero(is_peak & (novelty > threshold)), key=lambda k: -novelty[k]):
        if min_gap <= i <= n - min_gap and all(abs(i - c) >= min_gap for c in chosen):
            chosen.append(int(i))
    return sorted(chosen)


def _repeat_labels(similarity: np.ndarray, section_of_beat: np.ndarray, num_sections: int) -> np.ndarray:
    """Label sections so that alike ones share a label (first occurrence order)."""
    blocks = [np.flatnonzero(section_of_beat == s) for s in range(num_sections)]
    mean_sim = np.zeros((num_sections, num_sections))
    for a in range(num_sections):
        for b in range(num_sections):
            if len(blocks[a]) and len(blocks[b]):
                mean_sim[a, b] = similarity[np.ix_(blocks[a], blocks[b])].mean()
    self_sim = np.sqrt(np.maximum(np.outer(np.diag(mean_sim), np.diag(mean_sim)), 1e-8))
    normalised = mean_sim / self_sim
    labels = np.full(num_sections, -1, dtype=np.int64)
    next_label = 0
    for s in range(num_sections):
        earlier = [t for t in range(s) if normalised[s, t] >= REPEAT_SIMILARITY]
        if earlier:
            labels[s] = labels[max(earlier, key=lambda t: normalised[s, t])]
        else:
            labels[s], next_label = next_label, next_label + 1
    return labels


def _zscore(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return (values - values.mean()) / (values.std() + 1e-8)
