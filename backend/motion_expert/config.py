"""The Motion Expert's configuration: one frozen dataclass whose defaults are the official sizes.

The official MACE-Dance code (``Expert-Motion/EDGE.py`` and ``model/model.py``) hard-codes these numbers;
here they live in one place, are saved with every checkpoint of ours (``config.json``) and are read back
the way diffusers reads model configs: unknown keys are ignored with a warning, missing keys take the
defaults, and both are logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: Version of our ``config.json`` layout; bump when a field changes meaning.
CONFIG_FORMAT_VERSION = 1

#: Channel layout of one 151-d motion frame (EDGE/MACE order).
NUM_CONTACTS = 4
ROOT_POSITION_SLICE = slice(4, 7)
ROTATION_OFFSET = 7
ROTATION_6D = 6


@dataclass(frozen=True)
class MotionExpertConfig:
    """Sizes and sampling defaults of the MACE-Dance Motion Expert.

    Attributes:
        motion_dim: channels per motion frame: 4 foot contacts + 3 root position + 24 joints x 6D = 151.
        music_dim: channels per music frame: the EDGE "baseline" librosa features = 35.
        latent_dim: width of the denoiser (512).
        ff_dim: hidden width of the cross-modal feed-forward and of the genre MLP (1024).
        num_heads: heads of the music cross-attention (8 in the code; the paper says 4).
        num_dance_layers: DanceFiLM layers (8, hard-coded in the official code).
        num_music_layers: MusicFiLM layers (2, hard-coded).
        num_genres: genre vocabulary of the music encoder (16 FineDance ``style2`` labels).
        dropout: dropout in training (0.1).
        d_state, d_conv, expand: Mamba-1 block sizes (16, 4, 2).
        horizon: frames generated in one pass (40 s x 30 fps = 1200); longer songs are windowed.
        fps: frame rate of motion and music features (30).
        num_train_timesteps: diffusion steps of the cosine schedule (1000).
        gft_beta: Guidance-Free-Training beta used at sampling (0.75, i.e. CFG weight ~1.33).
        num_inference_steps: DDIM steps (50).
        eta: DDIM stochasticity (1.0 = the official sampler).
    """

    motion_dim: int = 151
    music_dim: int = 35
    latent_dim: int = 512
    ff_dim: int = 1024
    num_heads: int = 8
    num_dance_layers: int = 8
    num_music_layers: int = 2
    num_genres: int = 16
    dropout: float = 0.1
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    horizon: int = 1200
    fps: int = 30
    num_train_timesteps: int = 1000
    gft_beta: float = 0.75
    num_inference_steps: int = 50
    eta: float = 1.0

    def __post_init__(self) -> None:
        if self.latent_dim % self.num_heads:
            raise ValueError(f"`latent_dim` ({self.latent_dim}) must be divisible by `num_heads` ({self.num_heads})")
        if self.motion_dim != NUM_CONTACTS + 3 + 24 * ROTATION_6D:
            raise ValueError(f"`motion_dim` must be 151 (4 contacts + root + 24 x 6D), got {self.motion_dim}")
        if not 0.0 < self.gft_beta <= 1.0:
            raise ValueError(f"`gft_beta` must be in (0, 1], got {self.gft_beta}")

    @property
    def d_inner(self) -> int:
        return self.expand * self.latent_dim

    @property
    def dt_rank(self) -> int:
        """mamba_ssm's ``dt_rank="auto"``: ceil(d_model / 16)."""
        return -(-self.latent_dim // 16)

    @classmethod
    def tiny(cls, **overrides: Any) -> "MotionExpertConfig":
        """A few-thousand-parameter model for tests and CPU smoke runs (same layout, small sizes)."""
        sizes = dict(latent_dim=32, ff_dim=48, num_heads=2, num_dance_layers=2, num_music_layers=1,
                     d_state=4, horizon=64, num_inference_steps=4, dropout=0.0)  # fmt: skip
        sizes.update(overrides)
        return cls(**sizes)

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": CONFIG_FORMAT_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MotionExpertConfig":
        """Build from a saved dict: unknown keys are ignored (warning), missing keys take the defaults (info)."""
        data = dict(data)
        version = data.pop("format_version", CONFIG_FORMAT_VERSION)
        if version > CONFIG_FORMAT_VERSION:
            logger.warning("config format %s is newer than this program's %s", version, CONFIG_FORMAT_VERSION)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            logger.warning("ignoring unknown Motion Expert config keys: %s", ", ".join(unknown))
        missing = sorted(names - set(data))
        if missing:
            logger.info("Motion Expert config keys taking their defaults: %s", ", ".join(missing))
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "MotionExpertConfig":
        return cls.from_dict(json.loads(text))
