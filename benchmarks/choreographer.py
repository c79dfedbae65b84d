#!/usr/bin/env python3
"""Speed and realism of the embedded default choreographer.

    .venv/bin/python benchmarks/choreographer.py [--music FILE] [--seeds 3] [--baseline REV]

With ``--baseline REV`` (a git revision, e.g. ``main``) the same measurements also run on that revision's
code, checked out into a temporary folder and run first in a subprocess under the same load, and every
number is printed beside its baseline.

Speed: for 30 s and 180 s of music it times, in one run, the music analysis (``analyze_music``, warm numba
cache) and the choreography (planning + posing + IK + grounding), and prints the choreography time as a
ratio of the analysis time. Goal: the whole default generation (analysis + choreography) under 2 s for
30 s of music on this 2-core CPU.

Realism, for dances on every real track in ``../shared/data/music`` (or ``--music``): mean joint speed (all
frames, loud sections, and legs — knees, ankles, feet — against arms — elbows, wrists, hands), 99.9th-percentile and peak joint speed, next to the same figures for the real
motion capture in ``../shared/data/motion``; a kinetic Fréchet distance over 4-s windows (the evaluation
package's kinetic feature and Fréchet distance, clean protocol) to the real clips' windows, beside the
distance between the first and second halves of the real clips; and the Beat Align Score against the same
dance shifted by half a beat, and Lodge's foot-skating ratio (clean protocol, both feet averaged). Goals: loud-section mean speed within the real clips' range, 99.9th
percentile no higher than the real clips' (pooled), BAS above the half-beat shift on every track.

The music is ``--music``, else the real track in ``../shared/data/music``, else a synthetic drum-and-chord
track built here (so the benchmark runs anywhere). Tracks shorter than 180 s are looped.
``run()`` returns the numbers as a dict so ``benchmarks/motion.py`` can print them next to the Motion Expert.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The code measured: this checkout, or a baseline revision's (set by ``--baseline`` for its subprocess).
sys.path.insert(0, os.environ.get("CHOREO_BENCH_CODE", str(REPO)))

from backend.choreography import choreograph  # noqa: E402
from backend.choreography.motion_graph import graph_choreograph  # noqa: E402
from backend.choreography.planner import loudness_rank  # noqa: E402
from backend.evaluation.beat_align import beat_align_score  # noqa: E402
from backend.evaluation.foot import foot_skating_ratio  # noqa: E402
from backend.evaluation.distribution import frechet_distance, normalise_with_reference  # noqa: E402
from backend.evaluation.kinetic import windowed_kinetic_features  # noqa: E402
from backend.evaluation.loading import resample_joints  # noqa: E402
from backend.evaluation.protocol import CLEAN  # noqa: E402
from backend.features import analyze_music, load_audio  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_TRACK = SHARED_DATA / "music" / "drascula-track18.ogg"
LENGTHS_S = (30.0, 180.0)
GOAL_30S = 2.0
SR = 22050
#: Kinetic windows: length and hop, seconds.
WINDOW_S, HOP_S = 4.0, 1.0
#: Frames at least this loud (``planner.loudness_rank``) count as a loud section.
LOUD = 0.6
#: SMPL joints whose mean speed is reported as "legs" (knees, ankles, feet) and "arms" (elbows, wrists, hands).
LEGS, ARMS = [4, 5, 7, 8, 10, 11], [18, 19, 20, 21, 22, 23]


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


def joint_speeds(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, J, 3) positions → (T-1, J) joint speeds, m/s."""
    return np.linalg.norm(np.diff(joints, axis=0), axis=-1) * fps


def speed_row(speed: np.ndarray, loud: np.ndarray | None = None) -> dict[str, float]:
    """Mean, 99.9th percentile and peak joint speed (m/s); mean over the loud frames when given."""
    row = {
        "mean": float(speed.mean()),
        "p999": float(np.percentile(speed, 99.9)),
        "max": float(speed.max()),
    }
    row["loud_mean"] = float(speed[loud].mean()) if loud is not None and loud.any() else float("nan")
    row["legs"], row["arms"] = float(speed[:, LEGS].mean()), float(speed[:, ARMS].mean())
    return row


def real_clips() -> dict[str, np.ndarray]:
    """The real motion capture beside the repository: name → (T, 24, 3) joints at 30 fps."""
    folder = SHARED_DATA / "motion"
    clips = {}
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        with np.load(path, allow_pickle=False) as data:
            joints = resample_joints(data["joints"].astype(np.float64), float(data["fps"]), CLEAN.fps)
        clips[path.stem] = joints
    return clips


def halves_windows(clips: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """4-s kinetic windows of the first and of the second half of every clip (shorter halves: one window)."""
    first, second = [], []
    for joints in clips.values():
        middle = len(joints) // 2
        first.append(windowed_kinetic_features(joints[:middle], CLEAN, WINDOW_S, HOP_S))
        second.append(windowed_kinetic_features(joints[middle:], CLEAN, WINDOW_S, HOP_S))
    return np.concatenate(first), np.concatenate(second)


def kinetic_fd(generated: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance of kinetic windows, both sets normalised with the reference's statistics."""
    ref, gen = normalise_with_reference(reference, generated, CLEAN.normalise_eps)
    return frechet_distance(gen, ref)


def realism(tracks: list[Path], seeds: int, say=print, mocap: Path | None = None) -> dict:
    """Dances on every real track vs the real clips: joint speed, windowed kinetic FD, beat alignment.
    With ``mocap``, the motion-graph dances made of the takes in that folder."""
    clips = real_clips()
    graph = None
    if mocap is not None:
        from backend.choreography.mocap import load_library
        from backend.choreography.motion_graph import MotionGraph

        graph = MotionGraph.build(load_library(mocap))
    result: dict = {"real": {}, "tracks": {}}
    if clips:
        for name, joints in clips.items():
            result["real"][name] = speed_row(joint_speeds(joints, CLEAN.fps))
        pooled = np.concatenate([joint_speeds(j, CLEAN.fps) for j in clips.values()])
        result["real_pooled"] = speed_row(pooled)
        first, second = halves_windows(clips)
        reference = np.concatenate([first, second])
        result["real_halves_fd"] = kinetic_fd(first, second)
    for track in tracks:
        features = analyze_music(track)
        loud = loudness_rank(features.energy)[:-1] >= LOUD
        rows, windows = [], []
        for seed in range(seeds):
            if graph is not None:
                motion, _ = graph_choreograph(features, graph, seed=seed)
            else:
                motion, _ = choreograph(features, seed=seed)
            joints = motion.joint_positions()
            row = speed_row(joint_speeds(joints, motion.fps), loud[: len(joints) - 1, None].repeat(24, 1))
            half_beat = int(round(features.beat_period * features.fps / 2))
            shifted = np.concatenate([np.repeat(joints[:1], half_beat, axis=0), joints[:-half_beat]])
            row["bas"] = beat_align_score(features.beat_times, joints, CLEAN)
            row["bas_half_beat"] = beat_align_score(features.beat_times, shifted, CLEAN)
            row["fsr"] = float(np.mean(foot_skating_ratio(joints, CLEAN)))
            rows.append(row)
            windows.append(windowed_kinetic_features(joints, CLEAN, WINDOW_S, HOP_S))
        summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
        summary["p999"] = float(np.max([r["p999"] for r in rows]))  # the worst seed
        summary["max"] = float(np.max([r["max"] for r in rows]))
        summary["bas_wins"] = int(sum(r["bas"] > r["bas_half_beat"] for r in rows))
        summary["seeds"] = seeds
        if clips:
            summary["kinetic_fd"] = kinetic_fd(np.concatenate(windows), reference)
        result["tracks"][track.name] = summary

    kind = f"motion-graph dances from {mocap}" if graph is not None else "whole-track dances"
    say(f"\nrealism: {kind} ({seeds} seeds each) vs the real clips in {SHARED_DATA / 'motion'}")
    say(f"joint speed m/s over all 24 joints; loud = frames with loudness >= {LOUD} (the planner's scale);"
        f" kinetic FD over {WINDOW_S:g}-s windows ({CLEAN.name} protocol, normalised by the real windows)")
    say(f"{'':>36} {'mean':>6} {'loud':>6} {'legs':>6} {'arms':>6} {'p99.9':>6} {'max':>6} {'kin.FD':>7} "
        f"{'BAS':>6} {'BAS+½b':>7} {'FSR':>6}")
    for name, row in result["real"].items():
        say(f"{'real ' + name:>36} {row['mean']:6.2f} {'':>6} {row['legs']:6.2f} {row['arms']:6.2f} "
            f"{row['p999']:6.2f} {row['max']:6.2f}")
    if clips:
        row = result["real_pooled"]
        say(f"{'real, all clips pooled':>36} {row['mean']:6.2f} {'':>6} {row['legs']:6.2f} {row['arms']:6.2f} "
            f"{row['p999']:6.2f} {row['max']:6.2f} {result['real_halves_fd']:7.1f}   (FD: first vs second halves)")
    for name, row in result["tracks"].items():
        fd = f"{row['kinetic_fd']:7.1f}" if "kinetic_fd" in row else f"{'-':>7}"
        say(f"{'dance ' + name:>36} {row['mean']:6.2f} {row['loud_mean']:6.2f} {row['legs']:6.2f} "
            f"{row['arms']:6.2f} {row['p999']:6.2f} {row['max']:6.2f} {fd} {row['bas']:6.3f} "
            f"{row['bas_half_beat']:7.3f} {row['fsr']:6.3f}")
    if clips:
        means = [r["mean"] for r in result["real"].values()]
        low, high = min(means), max(means)
        limit = result["real_pooled"]["p999"]
        for name, row in result["tracks"].items():
            say(f"{name}: loud mean {row['loud_mean']:.2f} in real range {low:.2f}-{high:.2f}: "
                f"{'yes' if low <= row['loud_mean'] <= high else 'NO'}; p99.9 {row['p999']:.2f} <= real "
                f"{limit:.2f}: {'yes' if row['p999'] <= limit else 'NO'}; BAS beats the half-beat shift on "
                f"{row['bas_wins']}/{row['seeds']} seeds")
    return result


def run(music: Path | None = None, seeds: int = 3, verbose: bool = True) -> dict:
    """Time and characterise the default choreographer; returns {"timing": …, "realism": …}."""
    source = Path(music) if music else (DEFAULT_TRACK if DEFAULT_TRACK.is_file() else None)
    say = print if verbose else (lambda *a, **k: None)
    say(f"music: {source or 'synthetic drum-and-chord track (no real music found)'}")
    timing: dict[str, dict[str, float]] = {}
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
                choreograph(features, seed=seed)
                times.append(time.perf_counter() - t0)
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

    tracks = [Path(music)] if music else sorted((SHARED_DATA / "music").glob("*.ogg"))
    found = realism(tracks, seeds, say) if tracks else {}
    return {"timing": timing, "realism": found, "warmup_s": warmup}


#: What ``--baseline`` prints side by side: (label, path into the result dict; "*" = every track).
COMPARED = (
    ("choreography / analysis, 30 s", ("timing", "30s", "ratio")),
    ("choreography / analysis, 180 s", ("timing", "180s", "ratio")),
    ("choreography s, 30 s", ("timing", "30s", "choreography_s")),
    *((f"{label}, *", ("realism", "tracks", "*", key)) for label, key in (
        ("mean joint speed m/s", "mean"), ("loud-section mean m/s", "loud_mean"), ("legs mean m/s", "legs"),
        ("arms mean m/s", "arms"), ("legs / arms", "legs_over_arms"), ("p99.9 m/s", "p999"),
        ("kinetic FD", "kinetic_fd"), ("BAS", "bas"), ("BAS half-beat shift", "bas_half_beat"),
        ("foot-skating ratio", "fsr"))),
)


def _lookup(result: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def compare(baseline: dict, now: dict, revision: str) -> None:
    """Print every ``COMPARED`` number of the baseline run beside this run's."""
    tracks = sorted(set(_lookup(now, ("realism", "tracks")) or {}))
    print(f"\nside by side: baseline = {revision} (run first, same machine and load), now = this checkout")
    print(f"{'':>58} {'baseline':>9} {'now':>9}")
    for label, path in COMPARED:
        for track in tracks if "*" in path else [None]:
            concrete = tuple(track if key == "*" else key for key in path)
            old, new = _lookup(baseline, concrete), _lookup(now, concrete)
            if old is None and new is None:
                continue
            text = label.replace("*", track or "")
            show = lambda v: f"{v:9.3f}" if isinstance(v, float) else f"{'-':>9}"  # noqa: E731
            print(f"{text:>58} {show(old)} {show(new)}")


def _with_ratios(result: dict) -> dict:
    for row in result.get("timing", {}).values():
        row["ratio"] = row["choreography_s"] / row["analysis_s"]
    for row in (_lookup(result, ("realism", "tracks")) or {}).values():
        row["legs_over_arms"] = row["legs"] / row["arms"]
    return result


def baseline_run(revision: str, argv: list[str]) -> dict:
    """This benchmark on ``revision``'s code (``git archive`` into a temporary folder), in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        out = Path(tmp) / "baseline.json"
        print(f"baseline: {revision} ({tmp}), running first ...", flush=True)
        subprocess.run([sys.executable, __file__, *argv, "--json", str(out)], check=True,
                       env={**os.environ, "CHOREO_BENCH_CODE": tmp, "PYTHONPATH": tmp}, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--music", type=Path, help="music file (default: the shared real track, else synthetic)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--realism-only", action="store_true", help="skip the timing, measure realism only")
    parser.add_argument("--mocap", type=Path, help="measure motion-graph dances made of the takes in this folder")
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision, side by side")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    args = parser.parse_args()
    baseline = None
    if args.baseline:
        own = [a for a in sys.argv[1:] if a not in ("--baseline", args.baseline)]
        baseline = _with_ratios(baseline_run(args.baseline, own))
    if args.realism_only or args.mocap:
        tracks = [args.music] if args.music else sorted((SHARED_DATA / "music").glob("*.ogg"))
        result = {"realism": realism(tracks, args.seeds, mocap=args.mocap)}
    else:
        result = run(args.music, args.seeds)
    result = _with_ratios(result)
    if args.json:
        args.json.write_text(json.dumps(result, default=float))
    if baseline is not None:
        compare(baseline, result, args.baseline)
        print(f"load average now: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
