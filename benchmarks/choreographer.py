#!/usr/bin/env python3
"""Speed and realism of the embedded default choreographer.

    .venv/bin/python benchmarks/choreographer.py [--music FILE] [--seeds 3]

Speed: for 30 s and 180 s of music it times, in one run, the music analysis (``analyze_music``, warm numba
cache) and the choreography (planning + posing + IK + grounding), and prints the choreography time as a
ratio of the analysis time. Goal: the whole default generation (analysis + choreography) under 2 s for
30 s of music on this 2-core CPU.

Realism: mean and 95th-percentile joint speed, mean jerk and the share of frames with a planted foot of
the generated dances, next to the same numbers for the real motion capture in ``../shared/data/motion``
(when present), with the ratio generated / real-dance median.

The music is ``--music``, else the real track in ``../shared/data/music``, else a synthetic drum-and-chord
track built here (so the benchmark runs anywhere). Tracks shorter than 180 s are looped.
``run()`` returns the numbers as a dict so ``benchmarks/motion.py`` can print them next to the Motion Expert.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.choreography import choreograph  # noqa: E402
from backend.features import analyze_music, load_audio  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_TRACK = SHARED_DATA / "music" / "drascula-track18.ogg"
LENGTHS_S = (30.0, 180.0)
GOAL_30S = 2.0
SR = 22050
#: Real clips that are dances (the others are reference human movement).
DANCE_CLIPS = ("deepmimic_dance_a", "deepmimic_dance_b")


def synthetic_track(seconds: float, bpm: float = 120.0, sr: int = SR) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, hi-hats on eighths, and a four-chord progression that changes
    every bar; the second half is louder (a "chorus")."""
    rng = np.random.default_rng(0)
    audio = np.zeros(int(seconds * sr), dtype=np.float32)
    beat = 60.0 / bpm
    t = np.arange(int(0.2 * sr)) / sr
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-t * 25)
    snare = rng.standard_normal(len(t)) * np.exp(-t * 30) * 0.5
    hat = rng.standard_normal(len(t)) * np.exp(-t * 120) * 0.2
    chords = ([261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7])
    for k, start in enumerate(np.arange(0.0, seconds - 0.25, beat / 2)):
        i = int(start * sr)
        audio[i : i + len(t)] += hat
        if k % 2 == 0:
            audio[i : i + len(t)] += kick if (k // 2) % 2 == 0 else snare
    bar = 4 * beat
    for b, start in enumerate(np.arange(0.0, seconds, bar)):
        i, j = int(start * sr), min(int((start + bar) * sr), len(audio))
        tt = np.arange(j - i) / sr
        audio[i:j] += 0.15 * sum(np.sin(2 * np.pi * f * tt) for f in chords[b % 4]) / 3
    audio[len(audio) // 2 :] *= 1.8
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


def _music_of_length(source: Path | None, seconds: float, folder: Path) -> Path:
    import soundfile

    if source is not None:
        audio, sr = load_audio(source)
    else:
        audio, sr = synthetic_track(seconds), SR
    repeats = int(np.ceil(seconds * sr / len(audio)))
    audio = np.tile(audio, repeats)[: int(seconds * sr)]
    path = folder / f"music_{int(seconds)}s.wav"
    soundfile.write(str(path), audio, sr)
    return path


def motion_stats(joints: np.ndarray, fps: float, contacts: np.ndarray | None = None) -> dict[str, float]:
    """Mean / 95th-percentile joint speed (m/s), mean jerk (m/s³), planted share (from contacts, or from
    ankles slower than 0.3 m/s within 8 cm of the floor)."""
    velocity = np.diff(joints, axis=0) * fps
    speed = np.linalg.norm(velocity, axis=-1)
    jerk = np.linalg.norm(np.diff(joints, n=3, axis=0), axis=-1) * fps**3
    if contacts is None:
        floor = np.median(joints[:, [10, 11], 1].min(axis=1))
        low = joints[1:, [7, 8], 1] - floor < 0.08 + 0.06
        contacts = (low & (speed[:, [7, 8]] < 0.3)).astype(float)
    return {
        "speed_mean": float(speed.mean()),
        "speed_p95": float(np.percentile(speed, 95)),
        "jerk_mean": float(jerk.mean()),
        "planted": float((np.asarray(contacts)[:, :2].max(axis=1) > 0.5).mean()),
    }


def real_stats() -> dict[str, dict[str, float]]:
    folder = SHARED_DATA / "motion"
    stats = {}
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        with np.load(path, allow_pickle=False) as data:
            stats[path.stem] = motion_stats(data["joints"].astype(np.float64), float(data["fps"]))
    return stats


def run(music: Path | None = None, seeds: int = 3, verbose: bool = True) -> dict:
    """Time and characterise the default choreographer; returns {"timing": …, "realism": …}."""
    source = Path(music) if music else (DEFAULT_TRACK if DEFAULT_TRACK.is_file() else None)
    say = print if verbose else (lambda *a, **k: None)
    say(f"music: {source or 'synthetic drum-and-chord track (no real music found)'}")
    timing: dict[str, dict[str, float]] = {}
    generated: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {s: _music_of_length(source, s, Path(tmp)) for s in LENGTHS_S}
        t0 = time.perf_counter()
        analyze_music(paths[LENGTHS_S[0]], duration_s=5.0)  # loads or compiles librosa's numba kernels
        warmup = time.perf_counter() - t0
        say(f"first analysis in this process (numba cache load or compile): {warmup:.2f} s")
        for seconds, path in paths.items():
            t0 = time.perf_counter()
            features = analyze_music(path)
            analysis = time.perf_counter() - t0
            times = []
            for seed in range(seeds):
                t0 = time.perf_counter()
                motion, _ = choreograph(features, seed=seed)
                times.append(time.perf_counter() - t0)
                if seconds == LENGTHS_S[-1]:
                    generated.append(motion_stats(motion.joint_positions(), motion.fps, motion.contacts))
            dance = float(np.median(times))
            timing[f"{seconds:g}s"] = {"analysis_s": analysis, "choreography_s": dance, "total_s": analysis + dance}
    say("\nspeed (median over seeds; analysis = analyze_music on the same run's warm cache)")
    say(f"{'music':>7} {'analysis s':>11} {'choreography s':>15} {'total s':>8} {'choreo/analysis':>16}")
    for name, row in timing.items():
        say(f"{name:>7} {row['analysis_s']:11.3f} {row['choreography_s']:15.3f} {row['total_s']:8.3f} "
            f"{row['choreography_s'] / row['analysis_s']:16.3f}")  # fmt: skip
    total_30 = timing[f"{LENGTHS_S[0]:g}s"]["total_s"]
    verdict = "met" if total_30 < GOAL_30S else "MISSED"
    say(f"goal: 30 s of music in < {GOAL_30S:g} s total -> {total_30:.2f} s ({verdict})")

    realism = {"generated": {k: float(np.mean([g[k] for g in generated])) for k in generated[0]}}
    realism.update(real_stats())
    say(f"\nrealism ({LENGTHS_S[-1]:g} s dances, mean over {seeds} seeds) vs real motion capture")
    say(f"{'clip':>36} {'speed m/s':>10} {'p95 m/s':>8} {'jerk m/s^3':>11} {'planted':>8}")
    for name, row in realism.items():
        say(f"{name:>36} {row['speed_mean']:10.2f} {row['speed_p95']:8.2f} {row['jerk_mean']:11.0f} "
            f"{row['planted']:8.2f}")  # fmt: skip
    dances = [realism[name] for name in DANCE_CLIPS if name in realism]
    if dances:
        for key in ("speed_mean", "speed_p95", "jerk_mean"):
            reference = float(np.median([d[key] for d in dances]))
            say(f"generated / real dance median, {key}: {realism['generated'][key] / reference:.2f}")
    return {"timing": timing, "realism": realism, "warmup_s": warmup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--music", type=Path, help="music file (default: the shared real track, else synthetic)")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    run(args.music, args.seeds)


if __name__ == "__main__":
    main()
