"""``--sampler``/``--steps``: the Motion Expert's sampler on every command that dances."""

from __future__ import annotations

import argparse

from shared.sampling import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLER_HELP, SAMPLERS, SamplerChoice


def add_sampler_arguments(parser: argparse.ArgumentParser, steps_flag: str = "--steps") -> None:
    """Add ``--sampler`` and the steps flag (``steps_flag`` differs where ``--steps`` means something else)."""
    group = parser.add_argument_group("Motion Expert sampling")
    group.add_argument("--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER,
                       help="; ".join(f"{name}: {SAMPLER_HELP[name]}" for name in SAMPLERS))
    group.add_argument(steps_flag, dest="sampler_steps", type=int, default=None, metavar="N",
                       help="denoising steps (default: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_STEPS.items()) + ")")


def sampling_from_args(args: argparse.Namespace) -> SamplerChoice:
    return SamplerChoice(args.sampler, args.sampler_steps)
