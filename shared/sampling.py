"""Which sampler the Motion Expert denoises with, and how many steps: one typed choice for every layer.

The CLI (``--sampler``/``--steps``), the wire protocol (``generate_motion``'s ``sampling`` map), the add-on's
preferences and batch manifests all carry a :class:`SamplerChoice`; the Motion Expert's pipeline reads it.

* ``"dpmpp-sde"`` (default): DPM-Solver++ (2M SDE), stochastic like the official sampler; diffusers'
  ``DPMSolverMultistepScheduler`` on the model's own schedule with x0-prediction, :data:`DEFAULT_STEPS`
  steps: the fewest measured whose dances stay within DDIM-50's seed-to-seed spread on every metric
  (docs/motion_expert.md).
* ``"dpmpp"``: DPM-Solver++ (2M), the deterministic ODE solver; ``"unipc"``: UniPC (2nd order), a
  deterministic predictor-corrector. Both measured too, both further from DDIM-50's dances.
* ``"ddim"``: the official sampler, DDIM with eta = 1 (stochastic), 50 steps.

Pure Python: the Blender add-on bundles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError

SAMPLERS = ("dpmpp-sde", "dpmpp", "unipc", "ddim")
DEFAULT_SAMPLER = "dpmpp-sde"
#: Steps each sampler takes when none are asked for (measured: docs/motion_expert.md).
DEFAULT_STEPS = {"dpmpp-sde": 6, "dpmpp": 8, "unipc": 8, "ddim": 50}
MAX_STEPS = 1000  # the training schedule's length
SAMPLER_HELP = {
    "dpmpp-sde": f"DPM-Solver++ (2M SDE), stochastic like the official sampler: {DEFAULT_STEPS['dpmpp-sde']} steps "
                 "(default; its dances measured against the official sampler's: docs/motion_expert.md)",
    "dpmpp": f"DPM-Solver++ (2M), deterministic: {DEFAULT_STEPS['dpmpp']} steps",
    "unipc": f"UniPC (2nd order), deterministic: {DEFAULT_STEPS['unipc']} steps",
    "ddim": f"the official {DEFAULT_STEPS['ddim']}-step DDIM (eta = 1): slowest, the reference",
}
#: Short names for menus (the add-on's preferences; :data:`SAMPLER_HELP` is their tooltip).
SAMPLER_LABELS = {"dpmpp-sde": "DPM-Solver++ SDE (fast)", "dpmpp": "DPM-Solver++ (deterministic)",
                  "unipc": "UniPC (deterministic)", "ddim": f"DDIM, {DEFAULT_STEPS['ddim']} steps (official)"}


@dataclass(frozen=True)
class SamplerChoice:
    """A sampler name from :data:`SAMPLERS` and its step count (None = the sampler's :data:`DEFAULT_STEPS`)."""

    sampler: str = DEFAULT_SAMPLER
    steps: int | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise InvalidInputError(f"unknown sampler {self.sampler!r}", f"choose one of {', '.join(SAMPLERS)}")
        if self.steps is not None and (
            isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 1 <= self.steps <= MAX_STEPS
        ):
            raise InvalidInputError(f"sampler steps must be a whole number from 1 to {MAX_STEPS}, got {self.steps!r}",
                                    f"leave it empty for the sampler's default ({DEFAULT_STEPS[self.sampler]})")

    @property
    def num_steps(self) -> int:
        """The steps to take: ``steps`` or the sampler's default."""
        return DEFAULT_STEPS[self.sampler] if self.steps is None else self.steps

    def describe(self) -> str:
        return f"{self.sampler}, {self.num_steps} steps"

    def to_wire(self) -> dict:
        return {"sampler": self.sampler, "steps": self.steps}

    @classmethod
    def from_wire(cls, obj: Any, field: str = "sampling") -> "SamplerChoice":
        """Read ``{"sampler": str, "steps": int | nil}``; errors name ``field``."""
        if not isinstance(obj, dict):
            raise InvalidInputError(f"`{field}` must be a map, got {type(obj).__name__}", None)
        unknown = sorted(set(obj) - {"sampler", "steps"})
        if unknown:
            raise InvalidInputError(f"`{field}` has unknown keys {unknown}", "it holds `sampler` and `steps`")
        sampler = obj.get("sampler", DEFAULT_SAMPLER)
        if sampler is None:
            sampler = DEFAULT_SAMPLER
        if not isinstance(sampler, str):
            raise InvalidInputError(f"`{field}.sampler` must be str, got {type(sampler).__name__}", None)
        steps = obj.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise InvalidInputError(f"`{field}.steps` must be int, got {type(steps).__name__}", None)
        return cls(sampler=sampler, steps=steps)
