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

With ``--real`` (the installed weights: ``mace-dance weights download --wan --appearance``):

5. MACE's real ``LoRA.safetensors`` through diffusers' own Wan LoRA conversion: every key must map onto a
   layer of the real Wan2.2-Animate-14B transformer (built from its config on the meta device: no memory),
   with matching shapes. Runs without a GPU.
6. One 720x1280 segment (77 frames) in bfloat16 with the real weights, per offload mode (none, model,
   sequential): seconds per frame (scaled to 20 steps when ``--real-steps`` is lower) and peak GPU memory,
   failing when slower than ``REAL_FLOOR_S_PER_FRAME`` (about 2.5x the 3 minutes per segment reported for an
   80 GB card; offload modes get more). "none" is skipped on a card with less than 80 GB.
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
#: Slowest acceptable seconds per 720x1280 frame at 20 steps, bf16, per offload mode (3 min per 77-frame
#: segment = 2.3 s/frame on an 80 GB card; model offload moves components each segment, sequential each layer).
REAL_FLOOR_S_PER_FRAME = {"none": 6.0, "model": 12.0, "sequential": 90.0}
REAL_SEGMENT_FRAMES = 77
FULL_MEMORY_GB = 80
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


def real_lora_check(config) -> None:
    """MACE's LoRA file through diffusers' Wan LoRA conversion onto the real transformer's layers."""
    from accelerate import init_empty_weights
    from diffusers import WanAnimateTransformer3DModel
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_wan_lora_to_diffusers
    from safetensors.torch import load_file

    from backend.appearance.wan import LORA_FILE, diffsynth_lora_to_wan

    name = "MACE LoRA keys onto the real transformer"
    lora = config.mace_appearance_weights / LORA_FILE
    transformer_dir = config.wan_weights / "transformer"
    if not lora.is_file() or not (transformer_dir / "config.json").is_file():
        report(name, None, f"needs {lora} and {transformer_dir / 'config.json'} (mace-dance weights download --wan "
                           "--appearance)")
        return
    raw = load_file(str(lora))
    try:
        converted = _convert_non_diffusers_wan_lora_to_diffusers(diffsynth_lora_to_wan(raw))
    except (ValueError, KeyError) as exc:
        report(name, False, f"diffusers' Wan LoRA conversion left keys unmapped: {str(exc)[:300]}")
        return
    with init_empty_weights():
        transformer = WanAnimateTransformer3DModel.from_config(WanAnimateTransformer3DModel.load_config(transformer_dir))
    modules = dict(transformer.named_modules())
    problems = []
    for key, tensor in converted.items():
        module_name, _, part = key.removeprefix("transformer.").rpartition(".lora_")
        module = modules.get(module_name)
        if module is None:
            problems.append(f"{key}: no layer {module_name}")
        elif part == "A.weight" and tensor.shape[1] != module.in_features:
            problems.append(f"{key}: {tuple(tensor.shape)} against in_features {module.in_features}")
        elif part == "B.weight" and tensor.shape[0] != module.out_features:
            problems.append(f"{key}: {tuple(tensor.shape)} against out_features {module.out_features}")
    report(name, not problems and len(converted) > 0,
           f"{len(raw)} keys in {lora.name} -> {len(converted)} diffusers LoRA tensors, "
           + (f"{len(problems)} unmapped, e.g. {problems[:3]}" if problems else "every one on a layer of the right shape"))


def real_render_checks(config, steps: int) -> None:
    """One 720x1280 bf16 segment with the real weights per offload mode: s/frame and peak memory."""
    from backend.appearance import RenderRequest
    from backend.appearance.wan import WanAnimateOptions, WanAnimateRenderer
    from tests.backend.appearance.conftest import dance_motion, draw_person

    for mode, floor in REAL_FLOOR_S_PER_FRAME.items():
        name = f"Wan-Animate 720p bf16, offload {mode}"
        if not torch.cuda.is_available():
            report(name, None, "no CUDA device: a real 14B segment cannot run here")
            continue
        if not (config.wan_weights / "model_index.json").is_file():
            report(name, None, f"no Wan base at {config.wan_weights} (mace-dance weights download --wan)")
            continue
        memory_gb = torch.cuda.get_device_properties(0).total_memory / 2**30
        if mode == "none" and memory_gb < FULL_MEMORY_GB * 0.95:
            report(name, None, f"the whole model needs ~{FULL_MEMORY_GB} GB; this card has {memory_gb:.0f} GB")
            continue
        options = WanAnimateOptions(steps=steps, dtype="bfloat16", device="cuda", offload=mode,
                                    segment_frame_length=REAL_SEGMENT_FRAMES, model_fps=30)
        renderer = WanAnimateRenderer.from_config(config, options)
        with tempfile.TemporaryDirectory() as folder:
            request = RenderRequest(dance_motion(REAL_SEGMENT_FRAMES), draw_person(720, 1280), width=720, height=1280,
                                    fps=30, out_path=Path(folder) / "real.mp4")
            renderer.load()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            result = renderer.render(request)
            torch.cuda.synchronize()
            per_frame = (time.perf_counter() - start) / result.frames * 20 / steps
        peak = torch.cuda.max_memory_allocated() / 2**30
        report(name, per_frame <= floor, f"{per_frame:.2f} s/frame at 20 steps ({result.frames} frames, "
               f"{renderer.name}), peak GPU memory {peak:.1f} GB; floor {floor:g} s/frame")
        del renderer
        torch.cuda.empty_cache()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true", help="never pip-install mamba-ssm")
    parser.add_argument("--quick", action="store_true", help="10 DDIM steps for the speed figure (scaled to 50)")
    parser.add_argument("--real", action="store_true",
                        help="also check the installed real weights: MACE's LoRA keys, and one 720p bf16 segment per "
                        "offload mode (needs a CUDA GPU and the weights; minutes per mode)")
    parser.add_argument("--real-steps", type=int, default=20, metavar="N",
                        help="denoising steps of the real segment (default 20; fewer is quicker, timings are scaled)")
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
    if args.real:
        from backend.config import BackendConfig

        config = BackendConfig()
        real_lora_check(config)
        real_render_checks(config, args.real_steps)
    print("all checks that ran passed" if not FAILURES else f"FAILED: {', '.join(FAILURES)}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
