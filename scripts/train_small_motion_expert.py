#!/usr/bin/env python3
"""Train the small Motion Expert that the sampler comparison in docs/motion_expert.md is measured on.

There is no paired dance data in this project, so the model learns the embedded choreographer's dances
(a real, music-paired manifold for a solver to follow):

* to the real music in ``../shared/data/music`` (cut into overlapping spans),
* to generated music: drum/bass/chord loops at random tempi with loud and quiet sections (unlimited),
* plus the real mocap takes in ``../shared/data/motion/raw``, danced to the real music through the
  choreographer's motion-graph mode (segments of real capture retimed to the music's beats).

    nice -n 10 python scripts/train_small_motion_expert.py OUT              # ~20 min on 2 loaded cores
    nice -n 10 python scripts/train_small_motion_expert.py OUT --steps 500  # the first comparison's recipe
    nice -n 10 python scripts/train_small_motion_expert.py OUT --steps 50   # a quick check

The learning rate is constant (1e-3) for the first ``--lr-decay-from`` steps, then falls along a half cosine
to 0 at ``--steps``, so the loss settles instead of hovering at the constant rate's noise floor (from step
~600 on). Writes ``OUT/data`` (motion .npz + music .wav + genres.json: ``mace-dance train``'s folder layout)
and ``OUT/run`` (``OUT/run/model`` is the checkpoint). Re-running resumes (also with more ``--steps``: a
longer run continues the shorter one's curve); the data are rebuilt only when missing. Everything is
seeded, so the same command gives the same model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data beside the checkout
SR = 22050
SPAN_S = 12.0

#: The model the comparison uses: the official layout at a size a loaded 2-core CPU trains in minutes.
SMALL_SIZES = dict(latent_dim=64, ff_dim=128, num_heads=4, num_dance_layers=2, num_music_layers=1, d_state=8,
                   horizon=360, dropout=0.0)  # fmt: skip


def generated_music(seed: int, seconds: float = SPAN_S, sr: int = SR) -> np.ndarray:
    """A drum/bass/chord loop at a random tempo with a quiet and a loud half (mono float32 in [-1, 1])."""
    rng = np.random.default_rng(seed)
    bpm = rng.uniform(80.0, 150.0)
    beat = 60.0 / bpm
    audio = np.zeros(int(seconds * sr), dtype=np.float64)

    def hit(at: float, wave: np.ndarray, gain: float) -> None:
        start = int(at * sr)
        stop = min(start + len(wave), len(audio))
        if start < stop:
            audio[start:stop] += gain * wave[: stop - start]

    t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 18)
    snare = rng.normal(size=t.size) * np.exp(-t * 25) * 0.6
    hat = rng.normal(size=t.size) * np.exp(-t * 120) * 0.25
    root = rng.choice([55.0, 61.7, 65.4, 73.4, 82.4])
    loud_from = rng.uniform(0.3, 0.6) * seconds
    offset = rng.uniform(0.0, beat)
    pattern = rng.integers(0, 3)
    for k, at in enumerate(np.arange(offset, seconds, beat / 2)):
        gain = 1.0 if at >= loud_from else 0.45
        if k % 2 == 0:
            if (k // 2) % 2 == 0 or pattern == 2:
                hit(at, kick, gain)
            else:
                hit(at, snare, gain)
            bar = (k // 8) % 4
            note = root * (1.0, 1.335, 1.5, 1.189)[bar]
            tone = np.sin(2 * np.pi * note * t) * np.exp(-t * 6)
            hit(at, tone, 0.5 * gain)
        if pattern >= 1 or at >= loud_from:
            hit(at, hat, gain)
    pad_t = np.arange(len(audio)) / sr
    audio += 0.08 * np.sin(2 * np.pi * root * 2 * pad_t) * (0.5 + 0.5 * (pad_t >= loud_from))
    return (0.9 * audio / max(np.abs(audio).max(), 1e-6)).astype(np.float32)


def build_data(folder: Path, count_generated: int, shared: Path = SHARED, seed: int = 0) -> None:
    """Write choreographer dances (+ mocap motion-graph dances) with their music into ``folder``."""
    from shared.genres import GENRES
    from shared.motion_io import save_motion

    from backend.choreography import ChoreographerGenerator
    from backend.features.audio import load_audio
    from backend.motion_generation import MotionRequest

    folder.mkdir(parents=True, exist_ok=True)
    choreographer = ChoreographerGenerator()
    mocap = ChoreographerGenerator(mocap=shared / "motion" / "raw")
    rng = np.random.default_rng(seed)
    genres: dict[str, str] = {}
    jobs: list[tuple[str, np.ndarray, ChoreographerGenerator]] = []
    for track in sorted((shared / "music").glob("*.ogg")):
        audio, sr = load_audio(track, sr=SR)
        for k, start in enumerate(np.arange(0.0, len(audio) / sr - SPAN_S, SPAN_S / 2)):
            span = audio[int(start * sr) : int((start + SPAN_S) * sr)]
            jobs.append((f"{track.stem}-{k:02d}", span, choreographer))
            if k % 2 == 0:
                jobs.append((f"{track.stem}-{k:02d}-mocap", span, mocap))
    for k in range(count_generated):
        jobs.append((f"generated-{k:03d}", generated_music(seed * 10_000 + k), choreographer))
    for index, (name, audio, generator) in enumerate(jobs):
        if (folder / f"{name}.npz").is_file():
            continue
        wav = folder / f"{name}.wav"
        soundfile.write(str(wav), audio, SR)
        genre = GENRES[int(rng.integers(len(GENRES)))]
        result = generator.generate(MotionRequest(audio_path=wav, seed=index, genre=genre))
        save_motion(result.motion, folder / f"{name}.npz")
        genres[name] = genre
        print(f"[{index + 1}/{len(jobs)}] {name}: {result.motion.num_frames} frames, {genre}", flush=True)
    known = folder / "genres.json"
    if known.is_file():
        genres = {**json.loads(known.read_text()), **genres}
    known.write_text(json.dumps(genres, indent=1, sort_keys=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the data and the run")
    parser.add_argument("--steps", type=int, default=5000, help="optimiser steps (default 5000)")
    parser.add_argument("--lr-decay-from", type=int, default=2000,
                        help="the step from which the learning rate decays to 0 at --steps (default 2000)")
    parser.add_argument("--generated", type=int, default=40, help="dances to generated music (default 40)")
    parser.add_argument("--shared", type=Path, default=SHARED, help=f"the real data folder (default {SHARED})")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from backend.motion_expert.config import MotionExpertConfig
    from backend.motion_expert.training import TrainingOptions, train

    build_data(args.out / "data", args.generated, args.shared)
    options = TrainingOptions(
        data_dir=args.out / "data", out_dir=args.out / "run", config=MotionExpertConfig(**SMALL_SIZES),
        steps=args.steps, batch_size=args.batch_size, learning_rate=1e-3, lr_decay_from=args.lr_decay_from,
        weight_decay=0.02, window_seconds=2.0, stride_seconds=0.5, save_every=100, ema_decay=0.99,
    )  # fmt: skip
    from backend.cli._progress import progress_bar

    with progress_bar("training the small Motion Expert") as ctx:
        print(f"model: {train(options, ctx)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
