"""Weight-free video checks on synthetic renders with known properties."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from backend.cli import main
from backend.evaluation.video import evaluate_video, pose_agreement, psnr, read_video, ssim, temporal_consistency
from shared.errors import InvalidInputError
from shared.skeleton import PARENTS

from .conftest import FPS, still

SIZE = 96
FRAMES = 40


def travelling_dancer(frequency_hz: float, frames: int = FRAMES) -> np.ndarray:
    """(T, 24, 3) a dancer swaying sideways by ±0.5 m and bobbing by ±0.3 m (each body part leaves its pixels
    most of the time, so the median background is the empty scene)."""
    joints = still(frames)
    t = np.arange(frames) / FPS
    joints[:, :, 0] += 0.5 * np.sin(2 * np.pi * frequency_hz * t)[:, None]
    joints[:, :, 1] += 0.3 * np.sin(2 * np.pi * 1.5 * frequency_hz * t)[:, None]
    return joints


def to_pixels(joints: np.ndarray) -> np.ndarray:
    """Front view: x ∈ [-1.6, 1.6] m, y ∈ [-0.6, 2.6] m onto the square canvas."""
    u = (joints[..., 0] + 1.6) / 3.2 * (SIZE - 1)
    v = (2.6 - joints[..., 1]) / 3.2 * (SIZE - 1)
    return np.stack([u, v], axis=-1).round().astype(np.int32)


def draw(joints: np.ndarray, canvas: np.ndarray, colour, thickness: int) -> np.ndarray:
    points = to_pixels(joints)
    for child, parent in enumerate(PARENTS):
        if parent >= 0:
            cv2.line(canvas, tuple(map(int, points[parent])), tuple(map(int, points[child])), colour, thickness)
    return canvas


def pose_frames(joints: np.ndarray) -> np.ndarray:
    return np.stack([draw(j, np.zeros((SIZE, SIZE, 3), np.uint8), (255, 80, 0), 2) for j in joints])


def render_frames(joints: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 120, (SIZE, SIZE, 3)).astype(np.uint8), (7, 7), 2)
    frames = []
    for j in joints:
        frame = draw(j, background.copy(), (230, 200, 170), 7)
        if noise:
            frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        frames.append(frame)
    return np.stack(frames)


def test_identical_frames_are_perfectly_consistent():
    frames = np.repeat(render_frames(still(1)), 5, axis=0)
    result = temporal_consistency(frames)
    assert result["psnr_db"] == 100.0 and result["ssim"] == pytest.approx(1.0) and result["flicker"] == 1.0


def test_flicker_lowers_consistency():
    dancer = travelling_dancer(0.75)
    steady = temporal_consistency(render_frames(dancer))
    noisy = temporal_consistency(render_frames(dancer, noise=25.0))
    assert noisy["psnr_db"] < steady["psnr_db"] - 2
    assert noisy["ssim"] < steady["ssim"] - 0.2
    assert noisy["flicker"] < steady["flicker"]


def test_psnr_and_ssim_known_values():
    a = np.full((32, 32), 100.0)
    assert psnr(a, a + 10.0) == pytest.approx(10 * np.log10(255**2 / 100))
    assert ssim(a, a) == pytest.approx(1.0)


def test_render_following_its_pose_video_agrees_better_than_a_mismatch():
    dancer = travelling_dancer(0.75)
    other = travelling_dancer(1.3)
    pose = pose_frames(dancer)
    matched = pose_agreement(render_frames(dancer), pose)
    mismatched = pose_agreement(render_frames(other), pose)
    assert matched["coverage"] > 0.9
    assert matched["coverage"] > mismatched["coverage"] + 0.2
    assert matched["centroid_error"] < mismatched["centroid_error"]
    assert matched["motion_overlap"] > 0.6
    assert matched["motion_overlap"] > mismatched["motion_overlap"] + 0.2
    assert matched["motion_sync"] > 0.8
    assert matched["motion_sync"] > mismatched["motion_sync"] + 0.3
    # A known empty scene gives the same answer as the median estimate here.
    background = render_frames(still(1))[0].copy()
    background[:] = render_frames(still(1) + 100.0)[0]  # the dancer moved out of the picture
    known = pose_agreement(render_frames(dancer), pose, background=background)
    assert known["coverage"] == pytest.approx(matched["coverage"], abs=0.05)


def test_video_files_round_trip_and_cli(tmp_path, capsys):
    from backend.appearance.video_io import VideoWriter

    dancer = travelling_dancer(0.75)
    paths = {}
    for name, frames in (("render", render_frames(dancer)), ("pose", pose_frames(dancer))):
        paths[name] = tmp_path / f"{name}.mp4"
        with VideoWriter(paths[name], SIZE, SIZE, FPS) as writer:
            for frame in frames:
                writer.write(frame)
    frames, fps = read_video(paths["render"])
    assert frames.shape == (FRAMES, SIZE, SIZE, 3) and fps == pytest.approx(FPS)
    result = evaluate_video(paths["render"], paths["pose"])
    assert result.pose["coverage"] > 0.85 and result.pose["motion_sync"] > 0.8

    out = tmp_path / "video.json"
    assert main(["eval-video", str(paths["render"]), "--pose-video", str(paths["pose"]), "--json", str(out)]) == 0
    assert "pose agreement" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["frames"] == FRAMES and data["pose"]["coverage"] > 0.85
    assert data["pose"]["background"] == "median of the render"

    empty_scene = tmp_path / "empty.png"
    cv2.imwrite(str(empty_scene), render_frames(still(1) + 100.0)[0][:, :, ::-1])  # the dancer out of the picture
    args = ["eval-video", str(paths["render"]), "--pose-video", str(paths["pose"]), "--background", str(empty_scene)]
    assert main(args + ["--json", str(out)]) == 0
    assert "background: given image" in capsys.readouterr().out
    assert json.loads(out.read_text())["pose"]["coverage"] > 0.85
    assert main(["eval-video", str(paths["render"]), "--pose-video", str(paths["pose"]), "--background", str(out)]) == 3


def test_broken_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InvalidInputError, match="cannot decode"):
        read_video(bad)
    with pytest.raises(InvalidInputError, match="not found"):
        read_video(tmp_path / "missing.mp4")
