"""Score the embedded default choreographer with the standard dance metrics.

Generates dances on the real music in ``../shared/data/music`` (several windows and seeds per track),
evaluates them against the real motion capture in ``../shared/data/motion`` as the reference set, in both
protocols, and prints the tables with the protocol named. As chance-level controls it also scores every
dance's Beat Align Score against its own track's beats moved by half a beat, and against the *other*
track's beats: a generator that follows the music must beat both.

    .venv/bin/python benchmarks/eval_default.py [--window 20] [--seeds 2] [--keep DIR]

The reference set is small (6 clips, mostly not dance), so FID here compares against "real human
movement", not against a dance dataset; the numbers are for tracking this generator over time, not for
comparison with published tables (docs/evaluation.md).
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

from backend.evaluation import CLEAN, COMPAT, beat_align_score, evaluate_samples, load_folder  # noqa: E402
from backend.evaluation.beat_align import music_beat_times  # noqa: E402
from backend.evaluation.loading import MotionSample  # noqa: E402
from backend.motion_generation import MotionRequest  # noqa: E402
from shared.motion_io import save_motion  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def music_duration(path: Path) -> float:
    from backend.features import load_audio

    samples, sr = load_audio(path)
    return len(samples) / sr


def generate_set(music_files: list[Path], window_s: float, seeds: int, out_dir: Path) -> tuple[list[MotionSample], float, int]:
    """Dances over consecutive ``window_s`` windows of every track, ``seeds`` seeds each."""
    from backend.choreography import ChoreographerGenerator

    generator = ChoreographerGenerator()
    samples, seconds, frames = [], 0.0, 0
    for music in music_files:
        length = music_duration(music)
        starts = np.arange(0.0, max(length - window_s, 0.0) + 1e-6, window_s)
        for start in starts:
            for seed in range(seeds):
                request = MotionRequest(audio_path=music, seed=seed, duration_s=window_s, start_s=float(start))
                began = time.perf_counter()
                motion = generator.generate(request).motion
                seconds += time.perf_counter() - began
                frames += motion.num_frames
                motion.metadata = {**motion.metadata, "music": music.name, "start_s": float(start)}
                name = f"{music.stem}_t{int(start):03d}_seed{seed}"
                save_motion(motion, out_dir / f"{name}.npz")
                samples.append(MotionSample.from_motion(motion, name, out_dir / f"{name}.npz"))
                print(f"  generated {name}: {motion.num_frames} frames", flush=True)
    return samples, seconds, frames


def control_bas(samples: list[MotionSample], music_files: list[Path], protocol) -> tuple[float, float]:
    """Chance-level controls: mean BAS of each dance against its own track's beats moved by half a beat,
    and against the beats of a track it was *not* made for."""
    beats = {m.name: music_beat_times(m, protocol)[0] for m in music_files}
    half_beat, other_track = [], []
    for sample in samples:
        joints = sample.joints_at(protocol)
        own = beats[sample.music_hint] - sample.music_offset_s
        half_beat.append(beat_align_score(own + 0.5 * np.median(np.diff(own)), joints, protocol))
        others = [name for name in beats if name != sample.music_hint]
        if others:
            other_track.append(beat_align_score(beats[others[0]] - sample.music_offset_s, joints, protocol))
    mean = lambda values: float(np.nanmean(values)) if values else float("nan")  # noqa: E731
    return mean(half_beat), mean(other_track)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=20.0, help="seconds of music per dance (default 20)")
    parser.add_argument("--seeds", type=int, default=2, help="dances per window (default 2)")
    parser.add_argument("--keep", type=Path, help="keep the generated motions in this folder")
    args = parser.parse_args()
    music_dir, motion_dir = DATA / "music", DATA / "motion"
    if not music_dir.is_dir() or not motion_dir.is_dir():
        print(f"real data not found under {DATA}; nothing to benchmark", file=sys.stderr)
        return 1
    music_files = sorted(p for p in music_dir.iterdir() if p.suffix in (".ogg", ".wav", ".mp3", ".flac"))
    reference = load_folder(motion_dir)

    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating dances: {len(music_files)} tracks, {args.window:g} s windows, {args.seeds} seeds each")
        generated, gen_seconds, gen_frames = generate_set(music_files, args.window, args.seeds, out_dir)
        print(f"choreographer: {gen_frames} frames in {gen_seconds:.1f} s = {gen_frames / gen_seconds:.0f} frames/s (CPU)")
        print(f"reference set: {len(reference)} real mocap clips from {motion_dir}")
        for protocol in (CLEAN, COMPAT):
            began = time.perf_counter()
            report = evaluate_samples(generated, reference, protocol, music_dir)
            elapsed = time.perf_counter() - began
            print()
            print(report.format_table())
            half_beat, other_track = control_bas(generated, music_files, protocol)
            print(f"controls: BAS with the beats moved by half a beat = {half_beat:.4f}; "
                  f"against the other track's beats = {other_track:.4f}")
            print(f"(evaluation took {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
