"""``mace-dance generate``: music -> SMPL dance (.npz) and a preview video with the music."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.audio_formats import AUDIO_FORMATS_TEXT
from shared.genres import GENRES

from ..generators import GENERATOR_CHOICES
from ._sampling import add_sampler_arguments, sampling_from_args

#: Exit code when the motion and beats were written but the preview failed (see ``backend.cli``).
PARTLY_DONE_EXIT_CODE = 8


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="make a dance from a music file",
        description="Generate an SMPL dance for MUSIC. Writes DIR/<song>.npz (poses (T,24,3) axis-angle, trans, "
        "betas, fps; Y-up, metres), DIR/<song>_beats.json and DIR/<song>_preview.mp4 (skeleton with the music). "
        "Uses the Motion Expert when its weights are installed (see `mace-dance info`), else the embedded "
        "choreographer, which needs no GPU. If only the preview fails, the motion and beats are kept and the "
        f"exit code is {PARTLY_DONE_EXIT_CODE}.",
    )
    parser.add_argument("music", type=Path, help=f"music file: {AUDIO_FORMATS_TEXT}")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same dance (default 0)")
    parser.add_argument("--genre", default=None, metavar="G", help=f"dance genre: {', '.join(GENRES)}")
    parser.add_argument("--start", type=float, default=0.0, metavar="S", help="start S seconds into the music")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="dance only S seconds")
    parser.add_argument("--generator", choices=GENERATOR_CHOICES, default="auto",
                        help="which motion generator to use (default auto: the Motion Expert when installed, on CPU "
                        "too; else the choreographer; the choice and its reason are printed)")
    parser.add_argument("--mocap", type=Path, default=None, metavar="DIR",
                        help="dance with segments of your own mocap in DIR (.bvh, AMASS/our .npz, AIST++/FineDance "
                        ".pkl): the choreographer's motion graph, retimed to the music's beats")
    parser.add_argument("--device", default="auto", help="torch device for the Motion Expert (auto, cpu, cuda)")
    parser.add_argument("--no-preview", action="store_true", help="skip the preview video")
    add_sampler_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared.errors import InvalidInputError
    from shared.genres import genre_index
    from shared.motion_io import save_motion

    from ..config import BackendConfig
    from ..generators import select_motion_generator
    from ..motion_generation import MotionRequest
    from ._progress import progress_bar

    if not args.music.is_file():
        raise InvalidInputError(f"music file not found: {args.music}")
    genre_index(args.genre)  # a wrong name fails before any music is read
    config = BackendConfig(device=args.device, motion_generator=args.generator,
                           motion_sampling=sampling_from_args(args), mocap_dir=args.mocap)
    generator = select_motion_generator(config)
    print(f"dancer:  {generator.name} ({generator.reason})")
    request = MotionRequest(audio_path=args.music, seed=args.seed, genre=args.genre,
                            duration_s=args.duration, start_s=args.start)
    with progress_bar(f"dancing ({generator.name})") as ctx:
        result = generator.generate(request, ctx)

    stem = args.music.stem
    args.out.mkdir(parents=True, exist_ok=True)
    motion = result.motion
    motion.metadata.update({"music": args.music.name, "seed": args.seed, "generator": result.generator})
    motion_path = save_motion(motion, args.out / f"{stem}.npz")
    beats_path = args.out / f"{stem}_beats.json"
    from shared.atomic import atomic_write

    with atomic_write(beats_path, "w") as handle:
        json.dump({"tempo_bpm": float(result.tempo), "beats_s": [float(b) for b in result.beats]}, handle)
    print(f"motion:  {motion_path}  ({motion.num_frames} frames at {motion.fps:g} fps, {result.generator})")
    print(f"beats:   {beats_path}  ({len(result.beats)} beats, {result.tempo:.1f} BPM)")

    if not args.no_preview:
        return _write_preview(motion, args.out / f"{stem}_preview.mp4", args)
    return 0


def _write_preview(motion, preview_path: Path, args: argparse.Namespace) -> int:
    """The preview is a secondary output: if it fails, the motion and beats (already written) stay, the cause
    is reported, and the exit code says "partly done"."""
    import logging
    import sys

    from shared.errors import JobCancelledError, MaceError

    from ..appearance.pose_preview import write_preview_video
    from ._progress import progress_bar

    try:
        with progress_bar("preview video") as ctx:
            write_preview_video(motion, preview_path, audio_path=args.music, audio_offset_s=args.start, ctx=ctx)
    except JobCancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke the preview, the motion stays and the cause is shown
        logging.getLogger(__name__).info("preview failed", exc_info=True)  # the traceback, with --verbose
        cause = exc.message if isinstance(exc, MaceError) else f"{type(exc).__name__}: {exc}"
        hint = getattr(exc, "hint", None) or "rerun with --no-preview to skip it"
        print(f"error: preview not written ({cause})", file=sys.stderr)
        print(f"  fix: {hint}", file=sys.stderr)
        print("  the motion and beats above are complete", file=sys.stderr)
        return PARTLY_DONE_EXIT_CODE
    print(f"preview: {preview_path}")
    return 0
