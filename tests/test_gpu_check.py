"""benchmarks/gpu_check.py runs anywhere: on a machine without CUDA it checks what it can and says what it skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # runs benchmarks/gpu_check.py in its own process (torch, diffusers, a tiny Wan render)
def test_gpu_check_runs_and_names_what_it_skips():
    torch = pytest.importorskip("torch")
    run = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--no-install", "--quick"], cwd=REPO,
                         capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[ok  ] official-layout checkpoint" in run.stdout
    if not torch.cuda.is_available():
        for check in ("mamba-ssm", "Motion Expert kernels vs PyTorch", "Wan-Animate tiny pipeline on CUDA"):
            assert f"[skip] {check}: no CUDA device" in run.stdout
    else:
        assert "[FAIL]" not in run.stdout
