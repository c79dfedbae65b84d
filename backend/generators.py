"""Which motion generator dances, and why: the registry of the two generators.

:func:`pick_motion_generator` decides (cheaply: it only looks for the Motion Expert's checkpoint) and says
why, in words a person can act on; :func:`select_motion_generator` builds what it picked. ``mace-dance
info``, ``mace-dance generate``, the server's ``hello`` (the add-on's backend box) and batch all go through
here, so the reason shown is the rule applied.

The rule for ``auto``: the Motion Expert whenever its checkpoint is installed, on a GPU *and* on a CPU —
its default sampler (DPM-Solver++ SDE, 6 steps, ``shared.sampling``) makes a dance in tens of CPU seconds
per 30 s of music (numbers in docs/motion_expert.md); otherwise the embedded choreographer, which needs
nothing. A mocap folder always means the choreographer's motion-graph mode.

This module imports the generators; the generators import only :mod:`backend.motion_generation` (the
request and the contract), so there is no import circle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.errors import InvalidInputError, MissingWeightsError

from .config import BackendConfig
from .motion_generation import MotionGenerator

logger = logging.getLogger(__name__)

GENERATOR_CHOICES = ("auto", "choreographer", "motion_expert")


@dataclass(frozen=True)
class GeneratorPick:
    """The generator that will dance (``name``: "choreographer" or "motion_expert") and ``reason`` why."""

    name: str
    reason: str


def pick_motion_generator(config: BackendConfig | None = None) -> GeneratorPick:
    """What :func:`select_motion_generator` will build for ``config``, and why (no model is loaded).

    Raises:
        InvalidInputError: an unknown choice, or a mocap folder with ``motion_expert``.
        MissingWeightsError: ``motion_expert`` asked for but not installed.
    """
    from .motion_expert.checkpoint import find_checkpoint

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
        return GeneratorPick("choreographer", f"dancing segments of your mocap in {config.mocap_dir}")
    if choice == "choreographer":
        return GeneratorPick("choreographer", "asked for by name (the embedded choreographer needs no weights)")
    try:
        found = find_checkpoint(config.motion_weights)
    except MissingWeightsError:
        if choice == "motion_expert":
            raise
        return GeneratorPick("choreographer", f"the Motion Expert is not installed ({config.motion_weights}); "
                             "get it with `mace-dance weights download --motion` (about 0.3 GB)")  # fmt: skip
    how = "asked for by name" if choice == "motion_expert" else "installed, so `auto` uses it"
    return GeneratorPick("motion_expert", f"{how}: {found.kind} checkpoint {found.path}; on "
                         f"{config.resolve_device()} with {config.motion_sampling.describe()}")  # fmt: skip


def select_motion_generator(config: BackendConfig | None = None) -> MotionGenerator:
    """The generator :func:`pick_motion_generator` picks for ``config``, with its ``reason`` set."""
    config = config or BackendConfig()
    pick = pick_motion_generator(config)
    if pick.name == "motion_expert":
        from .motion_expert import MotionExpertGenerator

        generator = MotionExpertGenerator.from_config(config)
    else:
        from .choreography import ChoreographerGenerator

        generator = ChoreographerGenerator(mocap=config.mocap_dir)
    logger.info("motion generator: %s (%s)", pick.name, pick.reason)
    generator.reason = pick.reason
    return generator
