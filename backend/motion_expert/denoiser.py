"""The MACE-Dance denoiser: music + noisy motion + diffusion time + GFT beta -> clean motion (x0).

A replica of ``DanceDecoder`` in the official ``Expert-Motion/model/model.py``, module for module, so its
``model_state_dict`` loads with ``strict=True``. Layout (official sizes; B batch, T frames, F features)::

    music (B, T, 35) ─ cond_projection ─ 2 x MusicFiLMLayer(genre) ─ + null_cond_embed ─┐ memory
    x_t (B, T, 151) ─ input_projection ─ 8 x DanceFiLMLayer(memory, time+beta) ─ final_layer ─ x0 (B, T, 151)
    time_mlp(t) + beta_mlp(1000 * beta) = the FiLM vector of every dance layer

* MusicFiLMLayer: BiMamba over the music tokens, FiLM by an embedded genre.
* DanceFiLMLayer: BiMamba (+ FiLM, residual), then cross-attention to the music memory followed by a
  feed-forward *on the attention output* (no inner residual) (+ FiLM, residual). No self-attention and no
  positional encoding: temporal order comes from the Mamba blocks alone, so any length works.
* BiMamba: LayerNorm, then two independent Mamba blocks, the second on the time-reversed sequence, summed.

Two details follow the code rather than the paper: the learned null embedding is *added* to the music
memory (``memory * keep + null``), and the activation of the feed-forward is GELU (EDGE passes ``F.gelu``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import MotionExpertConfig
from .mamba import make_mamba


class SinusoidalEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar per batch item: (B,) -> (B, dim), [sin | cos] halves."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        frequencies = torch.exp(torch.arange(half, device=value.device) * -(math.log(10000.0) / (half - 1)))
        angles = value.float()[:, None] * frequencies[None, :]
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


def scalar_mlp(dim: int) -> nn.Sequential:
    """Sinusoid -> Linear(dim, 4 dim) -> Mish -> Linear(4 dim, dim): embeds diffusion time or GFT beta."""
    return nn.Sequential(SinusoidalEmbedding(dim), nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim))


class DenseFiLM(nn.Module):
    """(B, C) conditioning vector -> (scale, shift), each (B, 1, C)."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(nn.Mish(), nn.Linear(channels, channels * 2))

    def forward(self, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = self.block(vector).unsqueeze(1).chunk(2, dim=-1)
        return scale, shift


def featurewise_affine(x: torch.Tensor, scale_shift: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    scale, shift = scale_shift
    return (scale + 1) * x + shift


class BiMamba(nn.Module):
    """LayerNorm, forward Mamba + (separate) Mamba on the reversed sequence, summed, dropout. (B, T, C)."""

    def __init__(self, config: MotionExpertConfig, mamba_backend: str = "auto"):
        super().__init__()
        sizes = (config.latent_dim, config.d_state, config.d_conv, config.expand)
        self.mamba_forward = make_mamba(*sizes, backend=mamba_backend)
        self.mamba_backward = make_mamba(*sizes, backend=mamba_backend)
        self.dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(config.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        forward = self.mamba_forward(x)
        backward = self.mamba_backward(x.flip(1)).flip(1)
        return self.dropout(forward + backward)


class CrossModalBlock(nn.Module):
    """Cross-attention of dance tokens to the music memory, then a feed-forward on its output.

    dance (B, T, C), memory (B, T_music, C) -> (B, T, C). Pre-norms on both inputs; no residual inside.
    """

    def __init__(self, config: MotionExpertConfig):
        super().__init__()
        dim = config.latent_dim
        self.cross_attn = nn.MultiheadAttention(dim, config.num_heads, dropout=config.dropout, batch_first=True)
        self.dropout_cross = nn.Dropout(config.dropout)
        self.norm_dance = nn.LayerNorm(dim)
        self.norm_music = nn.LayerNorm(dim)
        self.norm = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, config.ff_dim)
        self.linear2 = nn.Linear(config.ff_dim, dim)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)

    def forward(self, dance: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        memory = self.norm_music(memory)
        x = self.cross_attn(self.norm_dance(dance), memory, memory, need_weights=False)[0]
        x = self.dropout_cross(x)
        return self.dropout2(self.linear2(self.dropout1(F.gelu(self.linear1(self.norm(x))))))


class DanceFiLMLayer(nn.Module):
    def __init__(self, config: MotionExpertConfig, mamba_backend: str = "auto"):
        super().__init__()
        self.bimamba = BiMamba(config, mamba_backend)
        self.transformer = CrossModalBlock(config)
        self.film1 = DenseFiLM(config.latent_dim)
        self.film2 = DenseFiLM(config.latent_dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        x = x + featurewise_affine(self.bimamba(x), self.film1(film))
        return x + featurewise_affine(self.transformer(x, memory), self.film2(film))


class MusicFiLMLayer(nn.Module):
    def __init__(self, config: MotionExpertConfig, mamba_backend: str = "auto"):
        super().__init__()
        dim = config.latent_dim
        self.bimamba = BiMamba(config, mamba_backend)
        self.film = DenseFiLM(dim)
        self.genre_MLP = nn.Sequential(
            nn.Embedding(config.num_genres, dim), nn.Linear(dim, config.ff_dim), nn.Mish(), nn.Linear(config.ff_dim, dim)
        )

    def forward(self, music: torch.Tensor, genre: torch.Tensor) -> torch.Tensor:
        return music + featurewise_affine(self.bimamba(music), self.film(self.genre_MLP(genre)))


class MotionDenoiser(nn.Module):
    """MACE-Dance's ``DanceDecoder`` (x0-prediction). See the module docstring for the layout.

    Args:
        config: sizes (:class:`MotionExpertConfig`).
        mamba_backend: "auto" (mamba_ssm on CUDA when it imports, else PyTorch), "cuda" or "torch".
    """

    def __init__(self, config: MotionExpertConfig, mamba_backend: str = "auto"):
        super().__init__()
        self.config = config
        dim = config.latent_dim
        self.time_mlp = scalar_mlp(dim)
        self.beta_mlp = scalar_mlp(dim)
        self.input_projection = nn.Linear(config.motion_dim, dim)
        self.cond_projection = nn.Linear(config.music_dim, dim)
        self.final_layer = nn.Linear(dim, config.motion_dim)
        self.dancelayerstack = nn.ModuleList(DanceFiLMLayer(config, mamba_backend) for _ in range(config.num_dance_layers))
        self.musiclayerstack = nn.ModuleList(MusicFiLMLayer(config, mamba_backend) for _ in range(config.num_music_layers))
        self.null_cond_embed = nn.Parameter(torch.zeros(1, 1, dim))

    def encode_music(self, music: torch.Tensor, genre: torch.Tensor, keep_music: torch.Tensor) -> torch.Tensor:
        """Music memory (B, T, C): encoded music times ``keep_music`` (B,) in {0, 1}, plus the null embedding."""
        memory = self.cond_projection(music)
        for layer in self.musiclayerstack:
            memory = layer(memory, genre)
        return memory * keep_music.to(memory.dtype).view(-1, 1, 1) + self.null_cond_embed

    def forward(
        self,
        x: torch.Tensor,
        music: torch.Tensor,
        genre: torch.Tensor,
        timesteps: torch.Tensor,
        beta: torch.Tensor,
        keep_music: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the clean motion.

        Args:
            x: (B, T, 151) noisy normalised motion.
            music: (B, T_music, 35) music features (T_music = T in MACE-Dance).
            genre: (B,) long genre ids in [0, num_genres).
            timesteps: (B,) diffusion step ids in [0, 1000).
            beta: (B,) GFT beta in (0, 1] (0.75 at sampling).
            keep_music: (B,) 1 = use the music, 0 = unconditional (null memory); default all 1.
            memory: a precomputed :meth:`encode_music` result (the music encoder does not depend on x or t,
                so samplers compute it once); overrides ``music``/``genre``/``keep_music``.
        Returns:
            (B, T, 151) predicted x0 (normalised).
        """
        if memory is None:
            if keep_music is None:
                keep_music = torch.ones(x.shape[0], device=x.device)
            memory = self.encode_music(music, genre, keep_music)
        film = self.time_mlp(timesteps) + self.beta_mlp(beta * 1000)
        h = self.input_projection(x)
        for layer in self.dancelayerstack:
            h = layer(h, memory, film)
        return self.final_layer(h)
