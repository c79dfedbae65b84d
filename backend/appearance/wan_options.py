"""The Wan-Animate settings (:class:`WanAnimateOptions`), on their own so that everything that carries them
(the CLI flags, the server, the Ray workers, the segment loop in :mod:`.wan_segments`) can import them without
the renderer in :mod:`.wan`, which imports that loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInputError

#: Weight of MACE-Dance's LoRA as MACE-Dance uses it.
MACE_LORA_SCALE = 0.5


@dataclass
class WanAnimateOptions:
    """The Wan-Animate settings: the one object behind ``render``'s and ``serve``'s flags and the add-on's
    preferences (load-time fields: dtype, device, offload, lora_scale; the others may change per video).

    Attributes:
        steps: denoising steps per segment (Wan and MACE use 20).
        guidance_scale: 1.0 = no classifier-free guidance (Wan-Animate's default; > 1 doubles the cost).
        segment_frame_length: frames per generated segment, 4n + 1 (77 as trained; shorter saves memory).
        prev_segment_conditioning_frames: frames of the previous segment that condition the next (1 or 5).
        seed: random seed.
        prompt: text prompt (needs the pipeline's tokenizer); MACE uses "the person in the video is dancing".
        prompt_embeds: precomputed (1, L, D) text embeddings instead of ``prompt``.
        face: "reference" (the reference's face crop repeated on every frame) or "black" (no face signal).
        dtype: "bfloat16" (default), "float16" or "float32".
        device: torch device; "auto" = cuda when available.
        offload: "none", "model" (components move to the GPU one at a time: fits ~24-40 GB) or "sequential"
            (layer by layer: slowest, smallest).
        lora_scale: weight of MACE's LoRA (0.5 as MACE-Dance uses it).
        model_fps: frame rate the pose video is drawn at and the model generates; None = 16 with MACE's
            weights, 30 for plain Wan-Animate (see ``backend.appearance.wan.WAN_ANIMATE_FPS``). The video is
            written at the asked rate.
    """

    steps: int = 20
    guidance_scale: float = 1.0
    segment_frame_length: int = 77
    prev_segment_conditioning_frames: int = 1
    seed: int = 0
    prompt: str = "a person dancing, full body, clear background"
    prompt_embeds: Any = None
    face: str = "reference"
    dtype: str = "bfloat16"
    device: str = "auto"
    offload: str = "none"
    lora_scale: float = MACE_LORA_SCALE
    model_fps: float | None = None

    def __post_init__(self) -> None:
        if self.model_fps is not None and not (4 <= float(self.model_fps) <= 60):
            raise InvalidInputError(f"model_fps must be between 4 and 60, got {self.model_fps}",
                                    hint="16 (MACE-Dance) or 30 (Wan-Animate)")
        if self.steps < 1:
            raise InvalidInputError(f"steps must be >= 1, got {self.steps}")
        if self.segment_frame_length < 5 or (self.segment_frame_length - 1) % 4:
            raise InvalidInputError(
                f"segment_frame_length must be 4n + 1 and >= 5, got {self.segment_frame_length}", hint="use 77, 49 or 33"
            )
        if self.prev_segment_conditioning_frames not in (1, 5):
            raise InvalidInputError(f"prev_segment_conditioning_frames must be 1 or 5, got {self.prev_segment_conditioning_frames}")
        if self.segment_frame_length < 2 * self.prev_segment_conditioning_frames:
            # Each segment must make at least as many new frames as the next one is conditioned on.
            raise InvalidInputError(f"segments of {self.segment_frame_length} frames are too short to carry "
                                    f"{self.prev_segment_conditioning_frames} conditioning frames", hint="use 13 or more")
        if self.face not in ("reference", "black"):
            raise InvalidInputError(f"face must be 'reference' or 'black', got {self.face!r}")
        if self.dtype not in ("bfloat16", "float16", "float32"):
            raise InvalidInputError(f"dtype must be bfloat16, float16 or float32, got {self.dtype!r}")
        if self.offload not in ("none", "model", "sequential"):
            raise InvalidInputError(f"offload must be none, model or sequential, got {self.offload!r}")

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)
