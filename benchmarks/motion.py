#!/usr/bin/env python3
"""Speed of the Motion Expert on this machine, each figure against a baseline timed in the same run.

    python benchmarks/motion.py                      # end to end: default sampler vs 50-step DDIM, 90 s of music
    python benchmarks/motion.py --quality RUN        # + the sampler quality table of a trained small model
    python benchmarks/motion.py --components         # + the component figures below (a few minutes more)
    python benchmarks/motion.py --threads 1          # steadier figures on a shared machine (wall ~ CPU time)

0. End to end, start-up included: ``mace-dance generate`` for 90 s of music with the authors' checkpoint
   layout installed (a stand-in ``train-N.pt`` with the official keys and shapes and random weights, built
   from the key list the checkpoint tests hold: speed does not depend on the values), once with the
   defaults and once with ``--sampler ddim --steps 50`` (the official sampler). Goal: default <= 0.2x.
   With ``--quality RUN`` (a folder from ``scripts/train_small_motion_expert.py``) it prints
   ``benchmarks/motion_quality.py``'s comparison of the samplers' dances on that trained model (run
   there first; it writes ``RUN/quality.json``).

Component figures (``--components``; random full-size weights):

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
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
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


REPO = Path(__file__).resolve().parents[1]
SHARED_SONG = REPO.parent / "shared" / "data" / "music" / "drascula-track18.ogg"  # 111 s, real music


def generate_command(music: Path, out: Path, seconds: float, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "backend.cli", "generate", str(music), "-o", str(out), "--generator",
            "motion_expert", "--duration", f"{seconds:g}", "--no-preview", *extra]  # fmt: skip


def timed_command(command: list[str], env: dict) -> Timing:
    """Wall and CPU seconds (the child's user + system) of one run of ``command``; fails loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Timing(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def end_to_end(music: Path, seconds: float, threads: int | None) -> dict[str, Timing]:
    """``mace-dance generate`` with the default sampler and with 50-step DDIM, the official layout installed,
    after a warm-up run and a timed start-up run (2 s of music, one step)."""
    sys.path.insert(0, str(REPO))
    from tests.backend.motion_expert.test_checkpoint import official_key_shapes, write_official_checkpoint

    with tempfile.TemporaryDirectory(prefix="motion-bench-") as tmp:
        weights = Path(tmp) / "weights" / "motion"
        weights.mkdir(parents=True)
        write_official_checkpoint(weights / "train-2000.pt", official_key_shapes())
        env = dict(os.environ, MACE_DANCE_MOTION_WEIGHTS=str(weights), MACE_DANCE_HOME=str(Path(tmp) / "home"),
                   PYTHONPATH=str(REPO))  # fmt: skip
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        # Twice first: first-use costs of this machine (numba compiling librosa's kernels into its disk cache,
        # the OS page cache) would otherwise fall on whichever run goes first; the second run (2 s of music,
        # one step) is about the start-up every run pays.
        timed_command(generate_command(music, Path(tmp) / "warm-up", 2.0, ["--steps", "1"]), env)
        runs = {"start-up": timed_command(generate_command(music, Path(tmp) / "start-up", 2.0, ["--steps", "1"]), env)}
        for label, extra in (("default", []), ("ddim-50", ["--sampler", "ddim", "--steps", "50"])):
            runs[label] = timed_command(generate_command(music, Path(tmp) / label, seconds, extra), env)
        return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat per component measurement")
    parser.add_argument("--music", type=Path, default=SHARED_SONG if SHARED_SONG.is_file() else
                        REPO / "examples" / "music" / "groove_120bpm.ogg", help="music for the end-to-end runs")
    parser.add_argument("--seconds", type=float, default=90.0, help="music length of the end-to-end runs (90)")
    parser.add_argument("--quality", type=Path, default=None, metavar="RUN",
                        help="print RUN/quality.json (benchmarks/motion_quality.py on a trained small model)")
    parser.add_argument("--components", action="store_true", help="also time the scan, GFT vs CFG and song lengths")
    parser.add_argument("--steps", type=int, default=2, help="DDIM steps for the song-length runs (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from shared.sampling import DEFAULT_SAMPLER, DEFAULT_STEPS

    load = open("/proc/loadavg").read().split()[:3]
    print(f"0. end to end, {args.seconds:g} s of {args.music.name}, official checkpoint layout (random weights), "
          f"load average before: {' '.join(load)}")
    runs = end_to_end(args.music, args.seconds, args.threads)
    default, ddim = runs["default"], runs["ddim-50"]
    print(f"   start-up (2 s of music, 1 step):  {runs['start-up']}")
    print(f"   default ({DEFAULT_SAMPLER}, {DEFAULT_STEPS[DEFAULT_SAMPLER]} steps): {default}")
    print(f"   --sampler ddim --steps 50:     {ddim}")
    print(f"   default / ddim-50: {float(default) / float(ddim):.3f} wall, {default.cpu / ddim.cpu:.3f} CPU "
          f"(goal <= 0.2); load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    if args.quality is not None:
        sys.path.insert(0, str(Path(__file__).parent))
        from motion_quality import format_table

        print("\n   sampler quality on the trained small model (benchmarks/motion_quality.py):")
        print("   " + format_table(json.loads((args.quality / "quality.json").read_text())).replace("\n", "\n   "))
    if not args.components:
        return
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, device cpu; random full-size weights")

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
    gft = timed(lambda: pipeline(music, sampler="ddim", num_inference_steps=steps, guidance="gft"), max(1, repeats - 1))
    cfg = timed(lambda: pipeline(music, sampler="ddim", num_inference_steps=steps, guidance="cfg"), max(1, repeats - 1))
    print(f"\n2. sampling {frames} frames, {steps} DDIM steps: GFT {gft}, CFG {cfg}")
    print(f"   GFT/CFG cost ratio {float(gft) / float(cfg):.2f} wall, {gft.cpu / cfg.cpu:.2f} CPU (goal ~0.5)")

    # 3. song lengths
    print(f"\n3. generation time by song length ({args.steps} DDIM steps; the official 50 steps cost "
          f"{50 / args.steps:.0f}x as much); windows of {config.horizon} frames:")
    per_second = []
    for seconds in (30, 60, 180):
        music = music_features(seconds * config.fps, seed=seconds)
        motions = []
        elapsed = timed(lambda: motions.append(pipeline(music, seed=0, sampler="ddim", num_inference_steps=args.steps)),
                        1, warm_up=False)
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
