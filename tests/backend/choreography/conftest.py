"""Music for the choreographer tests: click tracks analysed once per tempo, hand-made music facts, and the
dances of many seeds on one verse/chorus song (generated once per session, shared by the planner's tests)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from backend.features import MusicFeatures, analyze_music

SR = 22050
TEMPI = (90, 120, 150)
FPS = 30.0
#: Seeds the planner's statistical tests dance (each property is checked over all of them: tests/over_seeds.py).
SEEDS = tuple(range(12))


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


@pytest.fixture(scope="session")
def click_dances(click_features):
    """``{bpm: {seed: (motion, placements)}}``: the choreographer's dance of each of ``SEEDS`` on each click track."""
    from backend.choreography import choreograph

    return {bpm: {seed: choreograph(features, seed=seed) for seed in SEEDS} for bpm, features in click_features.items()}


def music_facts(
    bpm: float = 120.0, seconds: float = 48.0, bounds=(0.0, 16.5, 32.5, 48.0), labels=(0, 1, 0), loud=(1,)
) -> MusicFeatures:
    """MusicFeatures without audio: steady beats from 0.5 s, bars from the first beat, sections as given (on
    bar lines, as analyze_music snaps them), RMS 0.02 (quiet) or 0.3 (loud) per section."""
    num_frames = int(seconds * FPS) + 1
    beats = np.arange(0.5, seconds, 60.0 / bpm)
    energy = np.full(num_frames, 0.02, dtype=np.float32)
    for k in loud:
        energy[int(bounds[k] * FPS) : int(bounds[k + 1] * FPS)] = 0.3
    edge35 = np.zeros((num_frames, 35), dtype=np.float32)
    edge35[np.round(beats * FPS).astype(int), 34] = 1.0
    return MusicFeatures(
        edge35=edge35, beat_times=beats, tempo=bpm, downbeat_times=beats[::4], onset_env=edge35[:, 0].copy(),
        energy=energy, section_bounds=np.asarray(bounds, dtype=np.float64),
        section_labels=np.asarray(labels, dtype=np.int64), duration=seconds, fps=FPS, num_frames=num_frames,
    )  # fmt: skip


@pytest.fixture(scope="session")
def verse_chorus():
    """A quiet verse (0-16.5 s), a loud chorus (16.5-32.5 s) and a quiet outro (a new label) at 120 BPM."""
    return music_facts(labels=(0, 1, 2), loud=(1,))


@pytest.fixture(scope="session")
def verse_chorus_dances(verse_chorus):
    """``{seed: (motion, placements)}``: the choreographer's dance of each of ``SEEDS`` on ``verse_chorus``."""
    from backend.choreography import choreograph

    return {seed: choreograph(verse_chorus, seed=seed) for seed in SEEDS}
