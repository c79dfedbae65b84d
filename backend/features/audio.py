"""Decoding music files into mono float32 samples.

libsndfile (through the ``soundfile`` wheel) decodes WAV, FLAC, OGG/Vorbis/Opus and MP3 without ffmpeg.
librosa's audioread fallback is deliberately not used: it needs ffmpeg/GStreamer, which most machines here
lack, and it fails with confusing messages. Anything else gets an :class:`InvalidInputError` that names the
file and the accepted formats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.errors import InvalidInputError, NotFoundError, TooLargeError

#: File name endings we decode, for messages and the add-on's file picker.
ACCEPTED_SUFFIXES: tuple[str, ...] = (".wav", ".mp3", ".flac", ".ogg", ".oga")
ACCEPTED_FORMATS = "WAV, MP3, FLAC or OGG"
#: Longest music we analyse (an hour): guards memory; no dance needs more.
MAX_DURATION_S = 3600.0
#: Peak amplitude below which a file counts as silent (-80 dBFS).
SILENCE_PEAK = 1e-4

_CONVERT_HINT = f"convert it to {ACCEPTED_FORMATS} (e.g. `ffmpeg -i input.m4a music.wav`)"


def load_audio(path: str | Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a music file to mono.

    Args:
        path: a .wav/.mp3/.flac/.ogg file.
        sr: resample to this rate (Hz); None keeps the file's own rate.
    Returns:
        (samples (N,) float32 in [-1, 1], sample rate in Hz).
    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: unsupported format, corrupt, empty, or silent from start to end.
        TooLargeError: longer than ``MAX_DURATION_S``.
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"music file {path} does not exist", hint=f"give the path of a {ACCEPTED_FORMATS} file")
    if path.suffix.lower() not in ACCEPTED_SUFFIXES:
        raise InvalidInputError(
            f"music file {path} has an unsupported format {path.suffix or '(no extension)'!r}; "
            f"accepted: {', '.join(ACCEPTED_SUFFIXES)}",
            hint=_CONVERT_HINT,
        )
    try:
        info = soundfile.info(str(path))
        if info.frames > 0 and info.samplerate > 0 and info.frames / info.samplerate > MAX_DURATION_S:
            raise TooLargeError(
                f"music file {path} lasts {info.frames / info.samplerate:.0f} s, longer than {MAX_DURATION_S:.0f} s",
                hint="cut the part to dance to (or pass a start and duration)",
            )
        samples, native_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except TooLargeError:
        raise
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(
            f"cannot decode music file {path} ({exc}); accepted formats: {ACCEPTED_FORMATS}", hint=_CONVERT_HINT
        ) from exc
    return _checked_mono(samples.mean(axis=1), int(native_sr), sr, str(path))


def prepare_audio(samples: np.ndarray, sr: int, target_sr: int | None = None, name: str = "audio") -> np.ndarray:
    """Validate in-memory samples ((N,) mono or (N, C) / (C, N) multichannel) and resample them."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        channel_axis = 0 if samples.shape[0] < samples.shape[1] else 1
        samples = samples.mean(axis=channel_axis)
    if samples.ndim != 1:
        raise InvalidInputError(f"{name}: samples must be (N,) or (N, channels), got shape {samples.shape}")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise InvalidInputError(f"{name}: sample rate must be a positive integer, got {sr!r}")
    return _checked_mono(samples, int(sr), target_sr, name)[0]


def _checked_mono(samples: np.ndarray, native_sr: int, target_sr: int | None, name: str) -> tuple[np.ndarray, int]:
    if samples.size == 0:
        raise InvalidInputError(f"music file {name} contains no audio samples", hint="choose a file with music in it")
    if not np.isfinite(samples).all():
        raise InvalidInputError(f"music file {name} contains NaN or infinite samples", hint=_CONVERT_HINT)
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise InvalidInputError(
            f"music file {name} is silent from start to end (peak below -80 dBFS)",
            hint="choose a file with audible music",
        )
    if target_sr is not None and int(target_sr) != native_sr:
        import librosa

        samples = librosa.resample(samples, orig_sr=native_sr, target_sr=int(target_sr))
        native_sr = int(target_sr)
    return np.ascontiguousarray(samples, dtype=np.float32), native_sr
