"""Motion generation: what is asked (:class:`MotionRequest`), who answers (the :class:`MotionGenerator`
contract) and which of the two generators does (:func:`select_motion_generator`).

Both generators take a :class:`MotionRequest` and return a :class:`shared.motion.MotionResult` (the same
class the client gets back) holding a canonical :class:`shared.motion.Motion`, so the server, the add-on,
the renderer and the metrics never care which one made the dance:

* ``backend.choreography.ChoreographerGenerator()`` — the embedded default: moves authored in code,
  planned on the music's beats and sections; needs no weights and no GPU.
* ``backend.motion_expert.MotionExpertGenerator.from_config(config)`` — MACE-Dance's diffusion Motion Expert;
  raises :class:`shared.errors.MissingWeightsError` when no checkpoint is found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from shared.errors import InvalidInputError, MissingWeightsError
from shared.motion import MotionResult

from .config import BackendConfig
from .progress import JobContext

if TYPE_CHECKING:
    from shared.keep import KeepSpec

logger = logging.getLogger(__name__)

GENERATOR_CHOICES = ("auto", "choreographer", "motion_expert")


@dataclass
class MotionRequest:
    """What to dance to.

    Attributes:
        audio_path: music file (any format ``backend.features.audio`` reads, decided by content).
        seed: seed of every random choice; the same request gives the same dance.
        genre: a name from ``shared.genres.GENRES`` or None for no preference.
        duration_s: dance only this many seconds of the music (None = to the end).
        start_s: start this many seconds into the music.
        keep: regenerate only what ``keep`` does not lock (editing / "Regenerate selection").
    """

    audio_path: Path
    seed: int = 0
    genre: str | None = None
    duration_s: float | None = None
    start_s: float = 0.0
    keep: "KeepSpec | None" = None

    def __post_init__(self) -> None:
        self.audio_path = Path(self.audio_path)
        if self.start_s < 0 or not np.isfinite(self.start_s):
            raise InvalidInputError(f"`start_s` must be a finite number >= 0, got {self.start_s}")
        if self.duration_s is not None and not (np.isfinite(self.duration_s) and self.duration_s > 0):
            raise InvalidInputError(f"`duration_s` must be a positive number or None, got {self.duration_s}")


class MotionGenerator(Protocol):
    name: str

    def generate(self, request: MotionRequest, ctx: JobContext | None = None) -> MotionResult: ...


def select_motion_generator(config: BackendConfig | None = None) -> MotionGenerator:
    """The generator ``config.motion_generator`` asks for; "auto" prefers the Motion Expert when its
    weights are present and falls back to the embedded choreographer otherwise."""
    config = config or BackendConfig()
    choice = config.motion_generator
    if choice not in GENERATOR_CHOICES:
        raise InvalidInputError(f"unknown motion generator {choice!r}; choose one of {', '.join(GENERATOR_CHOICES)}")
    if config.mocap_dir is not None:  # the user's own mocap: the choreographer's motion-graph mode
        if choice == "motion_expert":
            raise InvalidInputError(
                "a mocap folder drives the choreographer, not the Motion Expert",
                hint="drop the mocap folder, or choose the choreographer (or auto) generator",
            )
        from .choreography import ChoreographerGenerator

        return ChoreographerGenerator(mocap=config.mocap_dir)
    if choice in ("auto", "motion_expert"):
        try:
            from .motion_expert import MotionExpertGenerator

            return MotionExpertGenerator.from_config(config, num_inference_steps=config.motion_steps)
        except MissingWeightsError as exc:
            if choice == "motion_expert":
                raise
            logger.info("Motion Expert unavailable (%s); using the embedded choreographer", exc.message)
    from .choreography import ChoreographerGenerator

    return ChoreographerGenerator()
