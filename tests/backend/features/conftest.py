"""Synthetic music for the feature tests: click tracks and two-part pieces built with numpy."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

SR = 22050


def click_track(bpm: float, seconds: float, sr: int = SR, accent_every: int = 0, offset: float = 0.25) -> np.ndarray:
    """Clicks on every beat (short decaying 1.5 kHz bursts); every ``accent_every``-th beat also gets a bass
    kick (60 Hz) so it sounds like a downbeat."""
    audio = np.zeros(int(seconds * sr), dtype=np.float32)
    n = int(0.05 * sr)
    t = np.arange(n) / sr
    click = (np.sin(2 * np.pi * 1500 * t) * np.exp(-t * 80)).astype(np.float32)
    kick = (np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30)).astype(np.float32)
    for k, beat in enumerate(np.arange(offset, seconds - 0.06, 60.0 / bpm)):
        start = int(beat * sr)
        audio[start : start + n] += 0.5 * click
        if accent_every and k % accent_every == 0:
            audio[start : start + n] += 0.8 * kick
    return audio


@pytest.fixture
def write_wav(tmp_path):
    def write(name: str, audio: np.ndarray, sr: int = SR, **kwargs) -> str:
        path = tmp_path / name
        soundfile.write(str(path), audio, sr, **kwargs)
        return str(path)

    return write
