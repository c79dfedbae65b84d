#!/usr/bin/env python3
"""Speed of the Motion Expert on this machine, each figure against a baseline timed in the same run.

    python benchmarks/motion.py            # full-size model (66.7 M parameters), a few minutes on 2 CPU cores
    python benchmarks/motion.py --quick    # fewer repeats
    python benchmarks/motion.py --threads 1   # steadier figures on a shared machine (wall ~ CPU time)

Weights are random (no checkpoint is needed): speed does not depend on their values.

1. denoiser seconds per step at 1200 frames (the official horizon): chunked selective scan vs the plain
   sequential scan (goal >= 5x), plus the scan alone for one Mamba block;
2. sampling cost with Guidance-Free Training (one network pass per step) vs classifier-free guidance (two
   passes, batched), same steps and length (goal ~0.5);
3. generation time for 30 s / 60 s / 180 s of music (goal: linear growth), with only a few DDIM steps
   (stated in the output; 50 steps cost 50/steps times as much), and the joint-velocity jump at window
   seams vs inside windows for the longest song.
At the end it runs ``benchmarks/choreographer.py``'s ``run()`` when that module exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from backend.motion_expert.config import MotionExpertConfig  # noqa: E402
from backend.motion_expert.denoiser import MotionDenoiser  # noqa: E402
from backend.motion_expert.mamba import MambaBlock, selective_scan_chunked, selective_scan_sequential, set_scan  # noqa: E402
from backend.motion_expert.pipeline import MotionExpertPipeline, seam_velocity_jumps  # noqa: E402
from backend.motion_expert.representation import Normalizer  # noqa: E402


class Timing(float):
    """Median wall seconds (the float value) with the median process CPU seconds in ``.cpu``.

    On a shared machine wall time includes waiting for a core; process CPU time counts only work done, so
    ratios of CPU times are the steadier figures (with one thread they equal wall time on an idle machine).
    """

    cpu: float

    def __new__(cls, wall: float, cpu: float) -> "Timing":
        value = super().__new__(cls, wall)
        value.cpu = cpu
        return value

    def __str__(self) -> str:
        return f"{float(self):7.2f} s wall / {self.cpu:7.2f} s CPU"


def timed(fn, repeats: int, warm_up: bool = True) -> Timing:
    """Median wall and process-CPU time of ``repeats`` calls (after one warm-up call)."""
    if warm_up:
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(statistics.median(walls), statistics.median(cpus))


def ratio(slow: Timing, fast: Timing) -> str:
    return f"{float(slow) / float(fast):.2f}x wall, {slow.cpu / fast.cpu:.2f}x CPU"


def music_features(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(frames, 35)).astype(np.float32)
    features[:, 33:] = 0.0
    features[::15, 33:] = 1.0  # onset peaks and beats at 120 BPM
    return features


def denoiser_step(model: MotionDenoiser, frames: int, repeats: int) -> dict[str, Timing]:
    x = torch.randn(1, frames, 151)
    music = torch.randn(1, frames, 35)
    args = (x, music, torch.tensor([3]), torch.tensor([500]), torch.tensor([0.75]))
    result = {}
    with torch.no_grad():
        for scan in ("chunked", "sequential"):
            set_scan(model, scan)
            result[scan] = timed(lambda: model(*args), repeats)
    set_scan(model, "chunked")
    return result


def scan_only(frames: int, repeats: int) -> dict[str, Timing]:
    block = MambaBlock(512)
    channels, state = 1024, 16
    g = torch.Generator().manual_seed(0)
    u = torch.randn(1, frames, channels, generator=g)
    delta = torch.nn.functional.softplus(torch.randn(1, frames, channels, generator=g) - 4)
    B, C = torch.randn(1, frames, state, generator=g), torch.randn(1, frames, state, generator=g)
    A = -torch.exp(block.A_log.detach())
    with torch.no_grad():
        return {
            "chunked": timed(lambda: selective_scan_chunked(u, delta, A, B, C, block.D.detach()), repeats),
            "sequential": timed(lambda: selective_scan_sequential(u, delta, A, B, C, block.D.detach()), repeats),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat per measurement")
    parser.add_argument("--steps", type=int, default=2, help="DDIM steps for the song-length runs (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu; random full-size weights")

    config = MotionExpertConfig()
    model = MotionDenoiser(config, mamba_backend="torch").eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"Motion Expert: {params / 1e6:.2f} M parameters (official layout)")

    # 1. scan
    scan = scan_only(config.horizon, repeats)
    print(f"\n1. selective scan of one Mamba block, {config.horizon} frames, d_inner 1024, d_state 16:")
    print(f"   chunked {scan['chunked']}   sequential {scan['sequential']}   ratio {ratio(scan['sequential'], scan['chunked'])}")
    step = denoiser_step(model, config.horizon, max(1, repeats - 1))
    print(f"   full denoiser step (20 Mamba blocks + 8 cross-attention layers), {config.horizon} frames:")
    print(f"   chunked {step['chunked']}   sequential {step['sequential']}   per step")
    print(f"   ratio {ratio(step['sequential'], step['chunked'])} (goal >= 5x)")
    # Everything but the scans (projections, convolutions, attention, FiLM) costs both variants the same; it
    # caps the whole-step ratio even for a scan that took no time at all.
    blocks = 2 * (config.num_dance_layers + config.num_music_layers)
    shared_cpu = step["chunked"].cpu - blocks * scan["chunked"].cpu
    print(f"   work besides the {blocks} scans: {shared_cpu:.2f} s CPU per step, so even a free scan would give at "
          f"most {step['sequential'].cpu / max(shared_cpu, 1e-9):.1f}x")

    # 2. GFT vs CFG
    normalizer = Normalizer(np.full(151, 0.5, np.float32), np.zeros(151, np.float32))
    pipeline = MotionExpertPipeline(model, normalizer)
    frames, steps = 300, 3
    music = music_features(frames)
    gft = timed(lambda: pipeline(music, num_inference_steps=steps, guidance="gft"), max(1, repeats - 1))
    cfg = timed(lambda: pipeline(music, num_inference_steps=steps, guidance="cfg"), max(1, repeats - 1))
    print(f"\n2. sampling {frames} frames, {steps} DDIM steps: GFT {gft}, CFG {cfg}")
    print(f"   GFT/CFG cost ratio {float(gft) / float(cfg):.2f} wall, {gft.cpu / cfg.cpu:.2f} CPU (goal ~0.5)")

    # 3. song lengths
    print(f"\n3. generation time by song length ({args.steps} DDIM steps; the official 50 steps cost "
          f"{50 / args.steps:.0f}x as much); windows of {config.horizon} frames:")
    per_second = []
    for seconds in (30, 60, 180):
        music = music_features(seconds * config.fps, seed=seconds)
        motions = []
        elapsed = timed(lambda: motions.append(pipeline(music, seed=0, num_inference_steps=args.steps)), 1, warm_up=False)
        motion = motions[-1]
        per_second.append(elapsed.cpu / seconds)
        windows = len(motion.metadata["windows"])
        print(f"   {seconds:4d} s of music: {elapsed}  ({windows} window{'s' * (windows > 1)}, "
              f"{elapsed.cpu / seconds:.3f} CPU s per second of music)")
    print(f"   growth: CPU cost per second of music varies {max(per_second) / min(per_second):.2f}x across lengths "
          "(1.0 = linear; window overlaps add a little)")
    seam, inside = seam_velocity_jumps(motion)
    print(f"   180 s: max joint-velocity jump at seams {seam:.4f} m/frame vs inside windows {inside:.4f} "
          "(random weights: a trained model makes smoother motion)")

    choreographer = Path(__file__).with_name("choreographer.py")
    if choreographer.is_file():
        spec = importlib.util.spec_from_file_location("benchmarks_choreographer", choreographer)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "run"):
            print("\n--- choreographer (embedded default) ---")
            module.run()


if __name__ == "__main__":
    main()
