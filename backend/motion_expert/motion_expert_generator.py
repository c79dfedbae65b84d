"""The Motion Expert behind the generator contract of ``backend.motion_generation``."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from shared.keep import fit_length, regenerated_span
from shared.sampling import SamplerChoice

from backend.config import BackendConfig
from backend.motion_generation import MotionRequest, MotionResult
from backend.progress import JobContext, ensure_context

from .checkpoint import CheckpointLocation, find_checkpoint
from .mamba import release_workspaces
from .pipeline import MotionExpertPipeline

logger = logging.getLogger(__name__)

#: Share of a job's progress bar spent on music analysis.
ANALYSIS_SHARE = 0.1


class MotionExpertGenerator:
    """MACE-Dance's diffusion Motion Expert as a motion generator.

    The checkpoint is located on construction (a missing one raises ``MissingWeightsError`` at once, so
    ``backend.generators`` can fall back) and loaded on the first ``generate`` call.

    Args:
        weights: a checkpoint path (see :func:`backend.motion_expert.checkpoint.find_checkpoint`).
        device: torch device ("cpu", "cuda", …).
        sampling: sampler and steps when a request names none (default: ``shared.sampling``'s, DPM-Solver++ SDE
            at its measured steps).
        mamba_backend: "auto" (mamba_ssm on CUDA when it imports), "cuda" or "torch".
    """

    name = "motion_expert"
    reason = "asked for by name"
    MODEL_FPS = 30.0

    def __init__(self, weights: str | Path, device: str = "cpu", sampling: SamplerChoice | None = None,
                 mamba_backend: str = "auto"):  # fmt: skip
        self.location: CheckpointLocation = find_checkpoint(weights)
        self.device = device
        self.sampling = sampling or SamplerChoice()
        self.mamba_backend = mamba_backend
        self._pipeline: MotionExpertPipeline | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: BackendConfig | None = None, **options) -> "MotionExpertGenerator":
        config = config or BackendConfig()
        return cls(config.motion_weights, device=config.resolve_device(), sampling=config.motion_sampling, **options)

    @property
    def pipeline(self) -> MotionExpertPipeline:
        with self._lock:
            if self._pipeline is None:
                logger.info("loading the Motion Expert from %s", self.location.path)
                self._pipeline = MotionExpertPipeline.from_pretrained(
                    self.location.path, device=self.device, mamba_backend=self.mamba_backend
                )
            return self._pipeline

    def generate(self, request: MotionRequest, ctx: JobContext | None = None) -> MotionResult:
        """Analyse the music of ``request`` and dance to it (inpainting when ``request.keep`` is set) with
        ``request.sampling`` (or this generator's ``sampling``)."""
        from backend.features import analyze_music

        ctx = ensure_context(ctx)
        sampling = request.sampling or self.sampling
        duration = regenerated_span(request.keep, request.duration_s)
        keep = None if request.keep is None else request.keep.at_fps(self.MODEL_FPS)
        music = analyze_music(request.audio_path, start_s=request.start_s, duration_s=duration,
                              ctx=ctx.subrange(0.0, ANALYSIS_SHARE))  # fmt: skip
        features = music.edge35
        if keep is not None:
            features = fit_length(features, keep.motion.num_frames)
        try:
            motion = self.pipeline(
                features, genre=request.genre, seed=request.seed, keep=keep,
                sampler=sampling.sampler, num_inference_steps=sampling.num_steps, ctx=ctx.subrange(ANALYSIS_SHARE, 1.0),
            )  # fmt: skip
        finally:
            release_workspaces()  # the scan's reused buffers (hundreds of MB) are not kept between jobs
        motion.metadata["music"] = Path(request.audio_path).name
        motion.metadata["start_s"] = float(request.start_s)
        return MotionResult(motion=motion, beats=music.beat_times, tempo=music.tempo, generator=self.name)

