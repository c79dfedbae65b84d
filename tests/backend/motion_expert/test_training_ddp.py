"""Training on several processes (DDP through Accelerate, gloo on CPU) gives what one process gives."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from backend.cli import main
from backend.motion_expert.training import LossLog
from tests.server.server_fakes import REPO

from .conftest import write_dance_dataset

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # slow: two DDP processes, each importing torch, train

COMMON = ["--size", "tiny", "--batch-size", "4", "--save-every", "3", "--device", "cpu"]


def _torchrun(data, out, steps: int) -> None:
    """``mace-dance train`` as 2 processes (torchrun, the launcher `accelerate launch --multi_gpu` uses)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "backend.cli", "train", str(data), "-o", str(out), "--steps", str(steps), *COMMON]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("model: ") == 1  # only the main process speaks


def _checkpoint(run, step: int) -> dict:
    return torch.load(run / "checkpoints" / f"step-{step:07d}.pt", map_location="cpu", weights_only=True)


LEARNING_RATE = 4e-4  # the CLI's default


def _relative_distance(left: list[torch.Tensor], right: list[torch.Tensor]) -> float:
    distance = sum(((x - y) ** 2).sum() for x, y in zip(left, right, strict=True)) ** 0.5
    return float(distance / sum((x**2).sum() for x in left) ** 0.5)


def _assert_same_weights(a: dict, b: dict) -> None:
    """Weights and EMA agree as float rounding allows: to 1e-5 relative overall and, per element, within half
    an optimiser step (Adam divides by the gradient's running size, so an element whose true gradient is ~0,
    e.g. attention's key bias, moves by learning-rate-sized steps of float noise). Adam's first moments (the
    gradients' running mean) agree to 1e-3 relative."""
    for part in ("model_state_dict", "ema_state_dict"):
        left, right = a[part], b[part]
        assert left.keys() == right.keys()
        worst = max(((left[k] - right[k]).abs().max().item(), k) for k in left)
        assert worst[0] < LEARNING_RATE / 2, f"{part}.{worst[1]} differs by {worst[0]:.3g}"
        relative = _relative_distance([left[k] for k in left], [right[k] for k in left])
        assert relative < 1e-5, f"{part} differs by {relative:.3g} relative"
    moments = [[s["exp_avg"] for s in state["optimizer_state_dict"]["state"].values()] for state in (a, b)]
    assert _relative_distance(*moments) < 1e-3


def test_two_processes_follow_one_process_and_resume_continues_the_curve(tmp_path, music):
    data = tmp_path / "data"
    write_dance_dataset(data, music)
    one, two = tmp_path / "one", tmp_path / "two"

    assert main(["train", str(data), "-o", str(one), "--steps", "9", *COMMON]) == 0  # one process, 9 steps
    _torchrun(data, two, steps=6)  # two processes, interrupted after step 6 …
    _torchrun(data, two, steps=9)  # … and resumed from its step-6 checkpoint

    curve_one, curve_two = LossLog.read(one / "losses.jsonl"), LossLog.read(two / "losses.jsonl")
    assert [e["step"] for e in curve_two] == list(range(1, 10))  # one line per step: the main process logs
    np.testing.assert_allclose([e["loss"] for e in curve_two], [e["loss"] for e in curve_one], rtol=1e-5)
    assert np.ptp([e["loss"] for e in curve_one]) > 1e-3  # a real curve, not a constant
    names = sorted(p.name for p in (two / "checkpoints").iterdir())
    assert names == ["step-0000003.pt", "step-0000006.pt", "step-0000009.pt"]  # rank 0 alone writes, no temp files
    for step in (6, 9):
        _assert_same_weights(_checkpoint(one, step), _checkpoint(two, step))
    moved = (_checkpoint(one, 9)["model_state_dict"]["final_layer.weight"]
             - _checkpoint(one, 3)["model_state_dict"]["final_layer.weight"]).abs().max().item()
    assert moved > 5 * LEARNING_RATE  # the steps did train, by far more than the tolerance
