"""The MACE-Dance Motion Expert: music -> SMPL dance by BiMamba-Transformer diffusion with GFT.

Modules (diffusers' roles): ``config`` (sizes), ``mamba`` (Mamba-1 in PyTorch), ``denoiser`` (the model),
``scheduler`` (schedule maths, no weights), ``pipeline`` (inputs, loop, long songs, editing),
``representation`` (151-d frames, FK, normaliser), ``losses`` and ``training`` (GFT), ``checkpoint``
(official and own formats), ``motion_expert_generator`` (the backend's generator contract). See docs/motion_expert.md.
"""

from .config import MotionExpertConfig
from .denoiser import MotionDenoiser
from .motion_expert_generator import MotionExpertGenerator
from .pipeline import MotionExpertPipeline

__all__ = ["MotionDenoiser", "MotionExpertConfig", "MotionExpertGenerator", "MotionExpertPipeline"]
