"""Music analysis shared by both motion generators.

``analyze_music`` computes, in one pass over the audio:

* the EDGE/MACE-Dance "baseline" 35-d features exactly as EDGE's ``baseline_features.py`` does (the Motion
  Expert's conditioning), and
* the musical facts the choreographer plans on and the add-on draws: beats, tempo, bars (downbeats),
  onset strength, loudness, and section boundaries with repeat labels.

Everything is on one frame grid: the audio is resampled to ``fps * 512`` Hz and analysed with hop 512, so
frame ``i`` covers time ``i / fps`` (30 fps → 15360 Hz, as in EDGE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.progress import JobContext, ensure_context
from shared.errors import InvalidInputError

from .audio import check_length, load_audio, prepare_audio
from .numba_cache import import_librosa, share_compiled
from .structure import estimate_downbeats, find_sections

HOP_LENGTH = 512
EDGE_FPS = 30
#: EDGE estimates its beat tracker's prior tempo on a reload of the file at librosa's default rate.
TEMPO_PRIOR_SR = 22050
BEAT_TIGHTNESS = 100
EDGE_FEATURE_DIM = 35
#: Column layout of ``edge35``.
ONSET_COLUMN, MFCC_COLUMNS, CHROMA_COLUMNS, PEAK_COLUMN, BEAT_COLUMN = 0, slice(1, 21), slice(21, 33), 33, 34

# AIST++ music names carry their tempo (EDGE ``_get_tempo``): genre code + digit.
_AIST_TEMPO = {
    **{code: (80, 10) for code in ("mBR", "mPO", "mLO", "mMH", "mLH", "mWA", "mKR", "mJS", "mJB")},
    "mHO": (110, 5),
}
_AIST_MUSIC = re.compile(r"(?:^|_)(m[A-Z]{2})(\d)(?:_|$)")


@dataclass
class MusicFeatures:
    """What the generators know about a piece of music. Times are seconds from the start of the audio.

    Attributes:
        edge35: (T, 35) float32 — EDGE/MACE baseline features: onset envelope (col 0), MFCC (1–20),
            chroma_cens (21–32), onset-peak one-hot (33), beat one-hot (34).
        beat_times: (B,) float64 beat times (the beat one-hot's frames / fps).
        tempo: BPM found by the beat tracker.
        downbeat_times: (D,) float64 bar starts (4 beats a bar), a subset of ``beat_times``.
        onset_env: (T,) float32 onset strength (= ``edge35[:, 0]``).
        energy: (T,) float32 RMS loudness per frame (linear amplitude).
        section_bounds: (S + 1,) float64 section edges from 0 to ``duration``; section ``k`` spans
            ``[section_bounds[k], section_bounds[k + 1])``.
        section_labels: (S,) int64 — sections with the same label sound alike (the music repeats).
        duration: seconds of audio analysed.
        fps: frame rate of every per-frame array.
        num_frames: T.
        start_bpm: the tracker's prior tempo (from an AIST++ name or librosa's tempo estimate).
    """

    edge35: np.ndarray
    beat_times: np.ndarray
    tempo: float
    downbeat_times: np.ndarray
    onset_env: np.ndarray
    energy: np.ndarray
    section_bounds: np.ndarray
    section_labels: np.ndarray
    duration: float
    fps: float = float(EDGE_FPS)
    num_frames: int = 0
    start_bpm: float = 0.0
    source: str = field(default="")

    @property
    def beat_period(self) -> float:
        """Median seconds per beat (60 / tempo when fewer than two beats were found)."""
        if len(self.beat_times) >= 2:
            return float(np.median(np.diff(self.beat_times)))
        return 60.0 / max(self.tempo, 1.0)


def aist_start_bpm(name: str) -> float | None:
    """Tempo an AIST++ music name declares (e.g. ``mBR0`` → 80 BPM), None for other names."""
    match = _AIST_MUSIC.search(Path(name).stem)
    if match is None:
        return None
    base, step = _AIST_TEMPO[match.group(1)] if match.group(1) in _AIST_TEMPO else (None, None)
    return None if base is None else float(base + step * int(match.group(2)))


def analyze_music(
    path_or_audio: str | Path | tuple[np.ndarray, int],
    *,
    fps: float = EDGE_FPS,
    start_s: float = 0.0,
    duration_s: float | None = None,
    start_bpm: float | None = None,
    ctx: JobContext | None = None,
) -> MusicFeatures:
    """Analyse music for dancing.

    Args:
        path_or_audio: a music file, or ``(samples, sample_rate)`` with samples (N,) or (N, channels).
        fps: frame rate of the features (30 = EDGE/MACE; the analysis rate is ``fps * 512`` Hz).
        start_s, duration_s: analyse only this part of the music (seconds); None = to the end.
        start_bpm: the beat tracker's prior; default: from an AIST++ file name, else librosa's estimate.
        ctx: progress and cancellation.
    Returns:
        :class:`MusicFeatures` on a ``fps`` grid starting at ``start_s``.
    """
    ctx = ensure_context(ctx)
    librosa = import_librosa()  # numba's cache folder was set when backend.features was imported

    if not (np.isfinite(fps) and fps > 0 and float(fps * HOP_LENGTH).is_integer()):
        raise InvalidInputError(f"fps must be positive with fps * {HOP_LENGTH} an integer, got {fps}", hint="use 30")
    sr = int(fps * HOP_LENGTH)
    ctx.report(0.0, "decoding music")
    if isinstance(path_or_audio, (str, Path)):
        name = str(path_or_audio)
        # Only the span is decoded: a 10 s dance from an hour-long file costs 10 s of samples.
        raw, raw_sr = load_audio(path_or_audio, start_s=start_s, duration_s=duration_s)
    else:
        try:
            samples, raw_sr = path_or_audio
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("audio must be a file path or a (samples, sample_rate) pair") from exc
        name = "audio"
        raw = _clip(prepare_audio(samples, raw_sr, name=name), raw_sr, start_s, duration_s, name)
    ctx.check_cancelled()

    data = prepare_audio(raw, raw_sr, target_sr=sr, name=name)
    ctx.report(0.1, "onsets and timbre")
    envelope = librosa.onset.onset_strength(y=data, sr=sr, hop_length=HOP_LENGTH)
    mfcc = librosa.feature.mfcc(y=data, sr=sr, n_mfcc=20, hop_length=HOP_LENGTH).T
    ctx.check_cancelled()
    ctx.report(0.3, "harmony")
    chroma = librosa.feature.chroma_cens(y=data, sr=sr, hop_length=HOP_LENGTH, n_chroma=12).T
    rms = librosa.feature.rms(y=data, hop_length=HOP_LENGTH)[0]
    ctx.check_cancelled()

    ctx.report(0.5, "beats")
    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=HOP_LENGTH)
    if start_bpm is None and isinstance(path_or_audio, (str, Path)):
        start_bpm = aist_start_bpm(name)
    if start_bpm is None:
        prior_audio = prepare_audio(raw, raw_sr, target_sr=TEMPO_PRIOR_SR, name=name)
        start_bpm = float(librosa.feature.tempo(y=prior_audio, sr=TEMPO_PRIOR_SR)[0])
    tempo, beats = librosa.beat.beat_track(
        onset_envelope=envelope, sr=sr, hop_length=HOP_LENGTH, start_bpm=start_bpm, tightness=BEAT_TIGHTNESS
    )
    ctx.check_cancelled()

    num_frames = min(len(envelope), len(mfcc), len(chroma), len(rms))
    edge35 = np.zeros((num_frames, EDGE_FEATURE_DIM), dtype=np.float32)
    edge35[:, ONSET_COLUMN] = envelope[:num_frames]
    edge35[:, MFCC_COLUMNS] = mfcc[:num_frames]
    edge35[:, CHROMA_COLUMNS] = chroma[:num_frames]
    edge35[peaks[peaks < num_frames], PEAK_COLUMN] = 1.0
    beats = np.asarray(beats, dtype=np.int64)
    beats = beats[beats < num_frames]
    edge35[beats, BEAT_COLUMN] = 1.0
    beat_times = beats.astype(np.float64) / fps
    duration = len(raw) / raw_sr

    ctx.report(0.7, "bars and sections")
    low_onset = _low_band_onset(data, sr, num_frames)
    downbeat_times = estimate_downbeats(beat_times, low_onset, chroma[:num_frames], fps)
    bounds, labels = find_sections(
        np.concatenate([mfcc[:num_frames], chroma[:num_frames]], axis=1), beats, downbeat_times, fps, duration
    )
    share_compiled()  # librosa's kernels this call compiled: other processes load them from disk now
    ctx.report(1.0, "music analysed")
    return MusicFeatures(
        edge35=edge35,
        beat_times=beat_times,
        tempo=float(np.atleast_1d(tempo)[0]),
        downbeat_times=downbeat_times,
        onset_env=edge35[:, ONSET_COLUMN].copy(),
        energy=rms[:num_frames].astype(np.float32),
        section_bounds=bounds,
        section_labels=labels,
        duration=float(duration),
        fps=float(fps),
        num_frames=int(num_frames),
        start_bpm=float(start_bpm),
        source=name,
    )


def _clip(samples: np.ndarray, sr: int, start_s: float, duration_s: float | None, name: str) -> np.ndarray:
    """The part of ``samples`` from ``start_s`` lasting ``duration_s`` (to the end when None)."""
    total = len(samples) / sr
    if not (np.isfinite(start_s) and 0.0 <= start_s < total):
        raise InvalidInputError(f"start {start_s} s lies outside {name} ({total:.1f} s long)", hint="start earlier")
    begin = int(round(start_s * sr))
    end = len(samples) if duration_s is None else min(len(samples), begin + int(round(duration_s * sr)))
    check_length((end - begin) / sr, name)
    return samples[begin:end]


def _low_band_onset(data: np.ndarray, sr: int, num_frames: int) -> np.ndarray:
    """(T,) onset strength of the bass band (< 200 Hz): kick drums and bass notes mark bar starts."""
    import librosa

    mel = librosa.feature.melspectrogram(y=data, sr=sr, hop_length=HOP_LENGTH, n_mels=64, fmax=sr / 2)
    mel_freqs = librosa.mel_frequencies(n_mels=64, fmax=sr / 2)
    low = librosa.power_to_db(mel[mel_freqs < 200.0])
    onset = librosa.onset.onset_strength(S=low, sr=sr, hop_length=HOP_LENGTH)
    out = np.zeros(num_frames, dtype=np.float64)
    out[: min(num_frames, len(onset))] = onset[:num_frames]
    return out
