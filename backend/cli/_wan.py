"""The Wan-Animate flags ``render`` and ``serve`` share, all read into the one settings object
(:class:`~backend.appearance.wan_options.WanAnimateOptions`), so both commands spell and check them alike."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.appearance.wan_options import WanAnimateOptions


def add_wan_arguments(parser: argparse.ArgumentParser, steps_flag: str = "--steps") -> None:
    """Add the Wan-Animate group. ``steps_flag`` differs where ``--steps`` already means something else."""
    wan = parser.add_argument_group("Wan-Animate (used when the Wan renderer runs)")
    wan.add_argument(steps_flag, dest="wan_steps", type=int, default=20, metavar="N",
                     help="Wan denoising steps per segment (default 20)")
    wan.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    wan.add_argument("--prompt", default=None, help="text prompt")
    wan.add_argument("--segment-frames", type=int, default=77, metavar="N",
                     help="frames per generated segment, 4n+1 (default 77 as trained; lower saves GPU memory)")
    wan.add_argument("--model-fps", type=float, default=None, metavar="FPS",
                     help="frame rate the model is driven at (default: 16 with MACE-Dance's weights, 30 for plain "
                     "Wan-Animate); the video is written at --fps")
    wan.add_argument("--offload", choices=("none", "model", "sequential"), default="none",
                     help="CPU offload for smaller GPUs (model: ~40 GB, sequential: smallest, slowest)")
    wan.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    wan.add_argument("--face", choices=("reference", "black"), default="reference",
                     help="face video: the reference's face on every frame, or none")


def wan_options_from_args(args: argparse.Namespace) -> "WanAnimateOptions":
    """The Wan settings the parsed flags give, checked now (whichever renderer runs, a bad value is reported
    at start, not at the first Wan render)."""
    from backend.appearance.wan_options import WanAnimateOptions

    options = dict(steps=args.wan_steps, seed=args.seed, segment_frame_length=args.segment_frames,
                   model_fps=args.model_fps, offload=args.offload, dtype=args.dtype, face=args.face,
                   device=args.device)  # fmt: skip
    if args.prompt:
        options["prompt"] = args.prompt
    return WanAnimateOptions(**options)
