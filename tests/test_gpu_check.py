"""benchmarks/gpu_check.py runs anywhere: on a machine without CUDA it checks what it can and says what it skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # runs benchmarks/gpu_check.py in its own process (torch, diffusers, tiny Wan renders)
def test_gpu_check_runs_and_names_what_it_skips(tmp_path):
    torch = pytest.importorskip("torch")
    run = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--no-install", "--quick", "--real"], cwd=REPO,
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(REPO), "MACE_DANCE_HOME": str(tmp_path)})  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[ok  ] official-layout checkpoint" in run.stdout
    if not torch.cuda.is_available():
        for check in ("mamba-ssm", "Motion Expert kernels vs PyTorch", "Wan-Animate tiny pipeline on CUDA",
                      "Wan-Animate 720p bf16, offload none", "Wan-Animate 720p bf16, offload sequential"):
            assert f"[skip] {check}: no CUDA device" in run.stdout
    else:
        assert "[FAIL]" not in run.stdout
    assert "[skip] MACE LoRA keys onto the real transformer: needs " in run.stdout  # no weights in this home


@pytest.mark.slow  # imports diffusers and builds a tiny Wan pipeline (about 20 s on 2 busy cores)
def test_the_real_lora_check_maps_every_key_and_fails_on_one_that_does_not(tmp_path, capsys):
    """The --real LoRA check on a tiny stand-in: MACE-layout LoRA keys onto a transformer built from its config."""
    pytest.importorskip("diffusers")
    import importlib.util

    from safetensors.torch import load_file, save_file

    from backend.config import BackendConfig
    from tests.backend.appearance.conftest import build_tiny_wan_animate_pipeline
    from tests.backend.appearance.test_wan_animate import write_mace_files

    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    config = BackendConfig(home=tmp_path)
    transformer = build_tiny_wan_animate_pipeline().transformer
    transformer.save_config(str(config.wan_weights / "transformer"))
    write_mace_files(config.mace_appearance_weights, transformer)
    gpu_check.real_lora_check(config)
    assert gpu_check.FAILURES == [] and "every one on a layer of the right shape" in capsys.readouterr().out

    lora = config.mace_appearance_weights / "LoRA.safetensors"
    state = load_file(str(lora))
    wrong = state["pipe.dit.blocks.0.self_attn.q.lora_A.default.weight"]
    state["pipe.dit.blocks.0.self_attn.q.lora_A.default.weight"] = wrong[:, :-1].contiguous()  # a shape that cannot fit
    save_file(state, str(lora))
    gpu_check.real_lora_check(config)
    assert gpu_check.FAILURES == ["MACE LoRA keys onto the real transformer"]
    assert "1 unmapped" in capsys.readouterr().out
