"""Small inputs for the Appearance Expert tests: a drawn person, a short dance, a music file, a tiny Wan-Animate."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from shared.motion import Motion

SKIN, SHIRT, PANTS, SHOE, BACKGROUND = (224, 172, 140), (200, 40, 40), (40, 60, 160), (30, 30, 30), (235, 235, 225)


def draw_person(width: int, height: int) -> np.ndarray:
    """A cartoon person in an A-pose, facing the viewer, on a plain background: (H, W, 3) uint8 RGB.

    Body height is 95 % of the image height; the wrists are 26 % of the height from the centre line.
    """
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    unit, cx = height / 100.0, width / 2.0

    def at(x: float, y: float) -> tuple[int, int]:
        return int(round(cx + x * unit)), int(round(y * unit))

    thick = max(int(3.2 * unit), 2)
    for side in (-1, 1):
        cv2.line(image, at(4 * side, 55), at(6 * side, 92), PANTS, thick + 1)
        cv2.line(image, at(6 * side, 92), at(8 * side, 95), SHOE, thick)
        cv2.line(image, at(10 * side, 23), at(20 * side, 36), SHIRT, thick)
        cv2.line(image, at(20 * side, 36), at(26 * side, 46), SKIN, thick)
        cv2.circle(image, at(27.5 * side, 48.6), max(int(2.2 * unit), 1), SKIN, -1)  # hand
    cv2.fillConvexPoly(image, np.array([at(-10, 22), at(10, 22), at(8, 56), at(-8, 56)]), SHIRT)
    cv2.line(image, at(0, 16), at(0, 23), SKIN, thick)
    cv2.ellipse(image, at(0, 11), (int(5 * unit), int(6.5 * unit)), 0, 0, 360, SKIN, -1)
    return image


def dance_motion(num_frames: int = 20, fps: float = 30.0) -> Motion:
    """Arm waves, a knee lift and a slow turn: (T, 24, 3) poses at ``fps``."""
    t = np.arange(num_frames) / fps
    poses = np.zeros((num_frames, 24, 3), np.float32)
    poses[:, 16, 2] = -1.2 + 0.8 * np.sin(4 * t)  # left shoulder
    poses[:, 17, 2] = 1.2  # right shoulder
    poses[:, 18, 1] = -np.sin(4 * t) ** 2  # left elbow
    poses[:, 1, 0] = -0.6 * np.sin(3 * t) ** 2  # left hip
    poses[:, 4, 0] = np.sin(3 * t) ** 2  # left knee
    poses[:, 0, 1] = 0.3 * t  # slow turn
    trans = np.zeros((num_frames, 3), np.float32)
    trans[:, 1] = 0.95 + 0.05 * np.sin(6 * t)
    return Motion(poses, trans, fps)


def write_music(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A click track with a tone: mono wav."""
    samples = np.arange(int(seconds * rate)) / rate
    audio = 0.2 * np.sin(2 * np.pi * 220 * samples) * (1 + (np.mod(samples, 0.5) < 0.05))
    sf.write(str(path), audio.astype(np.float32), rate)
    return path


@pytest.fixture
def person_image() -> np.ndarray:
    return draw_person(128, 192)


@pytest.fixture
def music_file(tmp_path: Path) -> Path:
    return write_music(tmp_path / "music.wav", 2.0)


def build_tiny_wan_animate_pipeline():
    """A randomly initialised, offline WanAnimatePipeline small enough to run on a CPU in seconds.

    Sizes follow diffusers' own tests (tests/pipelines/wan/test_wan_animate.py) except the text encoder,
    which is built locally (no Hub download), so the pipeline has no tokenizer: pass ``prompt_embeds``.
    """
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanAnimatePipeline, WanAnimateTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection, T5Config, T5EncoderModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])  # fmt: skip
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=32, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4))
    torch.manual_seed(0)
    transformer = WanAnimateTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, latent_channels=16,
        out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", image_dim=4, rope_max_seq_len=32,
        motion_encoder_channel_sizes={"4": 16, "8": 16, "16": 16}, motion_encoder_size=16, motion_style_dim=8,
        motion_dim=4, motion_encoder_dim=16, face_encoder_hidden_dim=16, face_encoder_num_heads=2,
        inject_face_latents_blocks=2,
    )  # fmt: skip
    torch.manual_seed(0)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=4,
        intermediate_size=16, patch_size=1,
    ))  # fmt: skip
    return WanAnimatePipeline(
        tokenizer=None, text_encoder=text_encoder, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_processor=CLIPImageProcessor(crop_size=4, size=4), image_encoder=image_encoder, transformer=transformer,
    )  # fmt: skip


@pytest.fixture
def tiny_wan_pipeline():
    pytest.importorskip("diffusers")
    return build_tiny_wan_animate_pipeline()


@pytest.fixture
def make_dance():
    """``make_dance(num_frames=20, fps=30.0) -> Motion`` (see :func:`dance_motion`)."""
    return dance_motion


@pytest.fixture
def make_person():
    """``make_person(width, height) -> (H, W, 3) uint8`` (see :func:`draw_person`)."""
    return draw_person


@pytest.fixture
def make_music():
    """``make_music(path, seconds) -> path`` (see :func:`write_music`)."""
    return write_music
