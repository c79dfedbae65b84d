"""The MACE-Dance Motion Expert: music -> SMPL dance by BiMamba-Transformer diffusion with GFT.

Modules (diffusers' roles): ``config`` (sizes), ``mamba`` (Mamba-1 in PyTorch), ``denoiser`` (the model),
``scheduler`` (schedule maths, no weights), ``pipeline`` (inputs, loop, long songs, editing),
``representation`` (151-d frames, FK, normaliser), ``losses`` and ``training`` (GFT), ``checkpoint``
(official and own formats), ``generator`` (the backend's generator contract). See docs/motion_expert.md.
"""

from .config import MotionExpertConfig
from .denoiser import MotionDenoiser
from .generator import MotionExpertGenerator
from .pipeline import MotionExpertPipeline

__all__ = ["MotionDenoiser", "MotionExpertConfig", "MotionExpertGenerator", "MotionExpertPipeline"]
