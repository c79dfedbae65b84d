"""Decoding music files: accepted formats, and clear errors for everything else."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from backend.features import load_audio
from shared.errors import InvalidInputError, NotFoundError

from .conftest import SR, click_track


@pytest.mark.parametrize(
    "suffix, fmt",
    [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".mp3", "MP3")],
)
def test_each_accepted_format_decodes_to_mono(tmp_path, suffix, fmt):
    stereo = np.stack([click_track(120, 2.0), 0.5 * click_track(120, 2.0)], axis=1)
    path = tmp_path / f"music{suffix}"
    soundfile.write(str(path), stereo, SR, format=fmt)
    audio, sr = load_audio(path)
    assert sr == SR
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - len(stereo)) < SR * 0.1  # mp3 pads a little
    # The loudest click survives decoding (lossy codecs keep the envelope).
    assert 0.2 < np.abs(audio).max() < 1.0


def test_resampling_changes_the_rate_and_length(write_wav):
    path = write_wav("clicks.wav", click_track(100, 3.0))
    audio, sr = load_audio(path, sr=15360)
    assert sr == 15360
    assert abs(len(audio) - 3.0 * 15360) <= 2


@pytest.mark.parametrize("name", ["song.m4a", "notes.txt", "noext"])
def test_unsupported_format_names_file_and_formats(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(InvalidInputError) as err:
        load_audio(path)
    assert name in str(err.value) and ".wav" in str(err.value)
    assert err.value.hint and "WAV" in err.value.hint


def test_corrupt_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(range(256)) * 4)
    with pytest.raises(InvalidInputError) as err:
        load_audio(path)
    assert "broken.wav" in str(err.value) and "WAV, MP3, FLAC or OGG" in str(err.value)


def test_empty_and_silent_files_are_refused(write_wav):
    with pytest.raises(InvalidInputError, match="no audio samples"):
        load_audio(write_wav("empty.wav", np.zeros(0, dtype=np.float32)))
    with pytest.raises(InvalidInputError, match="silent"):
        load_audio(write_wav("silence.wav", np.zeros(SR, dtype=np.float32)))


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_audio(tmp_path / "nowhere.wav")
