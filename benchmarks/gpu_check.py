#!/usr/bin/env python3
"""The GPU path in a few minutes, for anyone with a CUDA machine; on a CPU it says what it skipped and why.

    python benchmarks/gpu_check.py                # finds (or installs) mamba-ssm, runs every check
    python benchmarks/gpu_check.py --no-install   # never pip-installs anything
    python benchmarks/gpu_check.py --quick        # 10 DDIM steps instead of 50 for the speed figure

1. mamba-ssm: imported, or installed (``pip install mamba-ssm causal-conv1d --no-build-isolation``, which
   compiles against the torch already installed) when CUDA is there and it is missing.
2. Motion Expert through mamba-ssm's CUDA kernels and through our pure-PyTorch Mamba, both loaded from the
   same random checkpoint in the official MACE-Dance layout (``train-*.pt``): one denoiser pass on the same
   inputs must agree to <= 1e-3 (float32).
3. Speed: frames/s of a 1024-frame dance at 50 DDIM steps (GFT, one pass per step), against the 770 frames/s
   the MACE-Dance paper reports, and the pure-PyTorch path's frames/s on the same GPU.
4. Wan-Animate on CUDA with the tiny random pipeline: a 33-frame streaming render (peak CUDA memory), and
   MACE's adapter + LoRA loaded under sequential CPU offload, checked through the module's real forward pass.
Exit status 1 when a check that ran failed; skipped checks print why.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

PAPER_FRAMES_PER_S = 770.0
AGREEMENT = 1e-3
FAILURES: list[str] = []


def report(name: str, ok: bool | None, detail: str) -> None:
    """ok None = skipped."""
    mark = {True: "ok  ", False: "FAIL", None: "skip"}[ok]
    print(f"[{mark}] {name}: {detail}", flush=True)
    if ok is False:
        FAILURES.append(name)


def find_or_install_mamba(install: bool) -> bool:
    from backend.motion_expert.mamba import mamba_ssm_usable

    if not torch.cuda.is_available():
        report("mamba-ssm", None, "no CUDA device: the CUDA kernels cannot run here (the pure-PyTorch Mamba is used)")
        return False
    if mamba_ssm_usable():
        version = importlib.import_module("mamba_ssm").__version__
        report("mamba-ssm", True, f"mamba_ssm {version} imports with CUDA {torch.version.cuda}")
        return True
    if not install:
        report("mamba-ssm", None, "not installed and --no-install given: pip install '.[cuda]' --no-build-isolation")
        return False
    print("installing mamba-ssm and causal-conv1d (compiles against this torch; a few minutes) ...", flush=True)
    command = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "mamba-ssm>=2.2.4", "causal-conv1d>=1.4"]
    result = subprocess.run(command)
    importlib.invalidate_caches()
    ok = result.returncode == 0 and mamba_ssm_usable()
    report("mamba-ssm", ok, "installed" if ok else f"`{' '.join(command)}` failed (exit {result.returncode})")
    return ok


def random_official_checkpoint(folder: Path) -> Path:
    """A full-size (66.7 M) random checkpoint written exactly as the official training script saves one."""
    from tests.backend.motion_expert.test_checkpoint import official_key_shapes, write_official_checkpoint

    path = folder / "train-3750.pt"
    write_official_checkpoint(path, official_key_shapes())
    return path


def motion_expert_checks(checkpoint: Path, kernels: bool, steps: int) -> None:
    from backend.motion_expert.checkpoint import load_official_checkpoint
    from backend.motion_expert.pipeline import MotionExpertPipeline

    if not torch.cuda.is_available():
        report("Motion Expert kernels vs PyTorch", None, "no CUDA device")
        report("Motion Expert speed", None, "no CUDA device (benchmarks/motion.py measures the CPU)")
        return
    torch_model, normalizer, config = load_official_checkpoint(checkpoint, mamba_backend="torch")
    torch_model = torch_model.cuda().eval()
    generator = torch.Generator().manual_seed(0)
    frames = 1024
    x = torch.randn(1, frames, config.motion_dim, generator=generator).cuda()
    music = torch.randn(1, frames, config.music_dim, generator=generator).cuda()
    genre, t, beta = torch.tensor([3]).cuda(), torch.tensor([500]).cuda(), torch.tensor([0.75]).cuda()
    with torch.no_grad():
        reference = torch_model(x, music, genre, t, beta)
    if kernels:
        cuda_model, _, _ = load_official_checkpoint(checkpoint, mamba_backend="cuda")
        cuda_model = cuda_model.cuda().eval()
        with torch.no_grad():
            fast = cuda_model(x, music, genre, t, beta)
        difference = (fast - reference).abs().max().item()
        report("Motion Expert kernels vs PyTorch", difference <= AGREEMENT,
               f"max |difference| {difference:.2e} over a 1024-frame pass (goal <= {AGREEMENT:g})")
    else:
        cuda_model = None
        report("Motion Expert kernels vs PyTorch", None, "mamba-ssm not usable")

    features = np.random.default_rng(0).standard_normal((frames, config.music_dim)).astype(np.float32)
    for label, model in (("CUDA kernels", cuda_model), ("pure PyTorch", torch_model)):
        if model is None:
            continue
        pipeline = MotionExpertPipeline(model, normalizer, device="cuda")
        pipeline(features[:64], num_inference_steps=2)  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        pipeline(features, num_inference_steps=steps, seed=0)
        torch.cuda.synchronize()
        rate = frames / (time.perf_counter() - start) * steps / 50  # as frames/s at 50 steps
        note = f"{rate:7.0f} frames/s at 50 steps ({frames} frames"
        note += f", measured with {steps} steps and scaled)" if steps != 50 else ")"
        report(f"Motion Expert speed, {label}", None if label == "pure PyTorch" else True,
               f"{note}; x{rate / PAPER_FRAMES_PER_S:.2f} of the paper's {PAPER_FRAMES_PER_S:g} frames/s")


def wan_checks() -> None:
    from backend.appearance import RenderRequest
    from backend.appearance.video_io import probe
    from backend.appearance.wan import WanAnimateOptions, WanAnimateRenderer
    from backend.config import BackendConfig
    from tests.backend.appearance.conftest import build_tiny_wan_animate_pipeline, dance_motion, draw_person
    from tests.backend.appearance.test_wan_animate import write_mace_files

    if not torch.cuda.is_available():
        report("Wan-Animate tiny pipeline on CUDA", None, "no CUDA device (tests/backend/appearance cover the CPU)")
        return
    embeds = torch.randn(1, 16, 32)
    options = WanAnimateOptions(steps=2, segment_frame_length=17, dtype="float32", device="cuda",
                                prompt_embeds=embeds, model_fps=30)  # fmt: skip
    renderer = WanAnimateRenderer(pipeline=build_tiny_wan_animate_pipeline().to("cuda"), options=options)
    with tempfile.TemporaryDirectory() as folder:
        request = RenderRequest(dance_motion(33), draw_person(128, 192), width=128, height=224,
                                out_path=Path(folder) / "wan.mp4")  # fmt: skip
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = renderer.render(request)
        elapsed = time.perf_counter() - start
        frames = probe(result.path).frames
        peak = torch.cuda.max_memory_allocated() / 2**20
        report("Wan-Animate tiny pipeline on CUDA", frames == 33,
               f"{frames} frames 128x224 in {elapsed:.1f} s, peak CUDA memory {peak:.0f} MB")

        home = Path(folder) / "home"
        build_tiny_wan_animate_pipeline().save_pretrained(str(home / "weights" / "appearance" / "wan"))
        adapter, _ = write_mace_files(home / "weights" / "appearance" / "mace", build_tiny_wan_animate_pipeline().transformer)
        offloaded = WanAnimateRenderer.from_config(
            BackendConfig(home=home, device="cuda"),
            WanAnimateOptions(dtype="float32", device="cuda", offload="sequential", prompt_embeds=embeds))
        transformer = offloaded.load().transformer
        prefix = "module.pipe.animate_adapter.pose_patch_embedding."
        pose = torch.randn(1, 16, 2, 4, 4)
        expected = torch.nn.functional.conv3d(pose, adapter[prefix + "weight"], adapter[prefix + "bias"], stride=(1, 2, 2))
        with torch.no_grad():
            got = transformer.pose_patch_embedding(pose.cuda()).cpu()
        difference = (got - expected).abs().max().item()
        report("MACE adapter under sequential offload", difference < 1e-4,
               f"pose_patch_embedding forward vs the adapter's conv: max |difference| {difference:.1e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true", help="never pip-install mamba-ssm")
    parser.add_argument("--quick", action="store_true", help="10 DDIM steps for the speed figure (scaled to 50)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, " + (f"CUDA {torch.version.cuda} on {torch.cuda.get_device_name(0)}" if cuda
                                           else "no CUDA device: the CUDA checks are skipped"), flush=True)
    kernels = find_or_install_mamba(not args.no_install)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = random_official_checkpoint(Path(folder))
        from backend.motion_expert.checkpoint import load_official_checkpoint

        load_official_checkpoint(checkpoint, mamba_backend="torch")
        report("official-layout checkpoint", True, "random 66.7 M-parameter train-3750.pt loads strictly (PyTorch Mamba)")
        motion_expert_checks(checkpoint, kernels, 10 if args.quick else 50)
    wan_checks()
    print("all checks that ran passed" if not FAILURES else f"FAILED: {', '.join(FAILURES)}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
