"""Click-track music analysed once per tempo for the choreographer tests."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from backend.features import analyze_music

SR = 22050
TEMPI = (90, 120, 150)


def click_track(bpm: float, seconds: float, sr: int = SR, offset: float = 0.2) -> np.ndarray:
    """A metronome: a click on every beat, a low kick under every fourth (the downbeat)."""
    audio = np.zeros(int(seconds * sr), dtype=np.float32)
    n = int(0.05 * sr)
    t = np.arange(n) / sr
    click = np.sin(2 * np.pi * 1500 * t) * np.exp(-t * 80)
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30)
    for k, beat in enumerate(np.arange(offset, seconds - 0.06, 60.0 / bpm)):
        start = int(beat * sr)
        audio[start : start + n] += 0.5 * click + (0.8 * kick if k % 4 == 0 else 0.0)
    return audio


# -- the legs dance: one song danced quiet and loud by many dancers (seeds), shared by tests/test_legs.py --
#: Dancers (seeds) in the loud/quiet comparison: enough for a rate and a spread, few enough to stay cheap.
LEG_SEEDS = tuple(range(6))


@pytest.fixture(scope="session")
def loud_and_quiet_dances(click_features):
    """``{seed: (quiet motion, loud motion)}``: the 120 BPM click track's beats and sections with its loudness
    set to a quiet (RMS 0.02) and a loud (RMS 0.3) level, each danced once per seed for the session."""
    import dataclasses

    from backend.choreography import choreograph

    features = click_features[120]
    levels = [dataclasses.replace(features, energy=np.full_like(features.energy, rms)) for rms in (0.02, 0.3)]
    return {seed: tuple(choreograph(music, seed=seed)[0] for music in levels) for seed in LEG_SEEDS}


@pytest.fixture(scope="session")
def click_wavs(tmp_path_factory) -> dict[int, str]:
    folder = tmp_path_factory.mktemp("clicks")
    paths = {}
    for bpm in TEMPI:
        path = folder / f"click{bpm}.wav"
        soundfile.write(str(path), click_track(bpm, 20.0), SR)
        paths[bpm] = str(path)
    return paths


@pytest.fixture(scope="session")
def click_features(click_wavs):
    return {bpm: analyze_music(path) for bpm, path in click_wavs.items()}
