"""Motion generation: what is asked (:class:`MotionRequest`) and who answers (the :class:`MotionGenerator`
contract). Which of the two generators answers is :mod:`backend.generators`' business.

Both generators take a :class:`MotionRequest` and return a :class:`shared.motion.MotionResult` (the same
class the client gets back) holding a canonical :class:`shared.motion.Motion`, so the server, the add-on,
the renderer and the metrics never care which one made the dance:

* ``backend.choreography.ChoreographerGenerator()`` — the embedded default: moves authored in code,
  planned on the music's beats and sections; needs no weights and no GPU.
* ``backend.motion_expert.MotionExpertGenerator.from_config(config)`` — MACE-Dance's diffusion Motion Expert;
  raises :class:`shared.errors.MissingWeightsError` when no checkpoint is found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from shared.errors import InvalidInputError
from shared.motion import MotionResult
from shared.sampling import SamplerChoice

from .progress import JobContext

if TYPE_CHECKING:
    from shared.keep import KeepSpec


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
        sampling: the Motion Expert's sampler and steps (None = the generator's own; the choreographer
            has no sampler and ignores it).
    """

    audio_path: Path
    seed: int = 0
    genre: str | None = None
    duration_s: float | None = None
    start_s: float = 0.0
    keep: "KeepSpec | None" = None
    sampling: SamplerChoice | None = None

    def __post_init__(self) -> None:
        self.audio_path = Path(self.audio_path)
        if self.sampling is not None and not isinstance(self.sampling, SamplerChoice):
            raise InvalidInputError(f"`sampling` must be a SamplerChoice, got {type(self.sampling).__name__}")
        if self.start_s < 0 or not np.isfinite(self.start_s):
            raise InvalidInputError(f"`start_s` must be a finite number >= 0, got {self.start_s}")
        if self.duration_s is not None and not (np.isfinite(self.duration_s) and self.duration_s > 0):
            raise InvalidInputError(f"`duration_s` must be a positive number or None, got {self.duration_s}")


class MotionGenerator(Protocol):
    name: str
    reason: str  # why it was picked (set by ``backend.generators``), shown to people

    def generate(self, request: MotionRequest, ctx: JobContext | None = None) -> MotionResult: ...
