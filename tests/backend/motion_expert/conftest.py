"""Tiny Motion Expert fixtures (CPU, a fraction of a second each)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.motion_expert.config import MotionExpertConfig
from backend.motion_expert.denoiser import MotionDenoiser
from backend.motion_expert.pipeline import MotionExpertPipeline
from backend.motion_expert.representation import Normalizer, motion_to_features
from shared.motion import Motion


def dance_motion(num_frames: int = 90, fps: float = 30.0, seed: int = 0) -> Motion:
    """A smooth synthetic dance: swaying hips, swinging arms, bobbing root."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    poses = np.zeros((num_frames, 24, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(24, 3))
    amplitudes = rng.uniform(0.05, 0.4, size=(24, 3))
    poses += amplitudes * np.sin(2 * np.pi * 1.5 * t[:, None, None] + phases)
    trans = np.stack([0.2 * np.sin(t), 0.9 + 0.05 * np.sin(2 * np.pi * 2 * t), 0.1 * t], axis=1)
    return Motion(poses=poses, trans=trans, fps=fps)


def write_dance_dataset(folder, music: np.ndarray, takes: int = 2) -> None:
    """A training folder: ``takes`` 4 s dances with FineDance-style music features and genres.json."""
    from shared.motion_io import save_motion

    feats = folder / "baseline_feats"
    feats.mkdir(parents=True)
    for take in range(takes):
        save_motion(dance_motion(120, seed=take), folder / f"gJZ_take{take}.npz")
        np.save(feats / f"gJZ_take{take}.npy", np.tile(music, (1, 1))[:120])
    (folder / "genres.json").write_text('{"gJZ_take0": "Jazz", "gJZ_take1": 5}')


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models are dominated by thread hand-offs; one thread is faster and steadier on shared CI."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_config() -> MotionExpertConfig:
    return MotionExpertConfig.tiny()


@pytest.fixture
def tiny_model(tiny_config) -> MotionDenoiser:
    torch.manual_seed(0)
    return MotionDenoiser(tiny_config, mamba_backend="torch").eval()


@pytest.fixture
def normalizer() -> Normalizer:
    frames = np.concatenate([motion_to_features(dance_motion(120, seed=s)) for s in range(3)])
    return Normalizer.fit(frames)


@pytest.fixture
def tiny_pipeline(tiny_model, normalizer) -> MotionExpertPipeline:
    return MotionExpertPipeline(tiny_model, normalizer)


@pytest.fixture
def music() -> np.ndarray:
    """(150, 35) EDGE-like features: onset envelope, MFCC-ish noise, chroma, peaks and beats every 15 frames."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(150, 35)).astype(np.float32)
    features[:, 33:] = 0.0
    features[::15, 33:] = 1.0
    return features
