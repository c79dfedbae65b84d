"""``mace-dance eval`` (motion metrics of a generated set against a reference set) and
``mace-dance eval-video`` (weight-free checks of a rendered video)."""

from __future__ import annotations

import argparse
import json

from shared.atomic import atomic_write

from ._progress import progress_bar

MODES = ("clean", "compat")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score generated dances: FID_k, FID_g, Div_k, Div_g, BAS, PFC, FSR",
        description="Score a folder of generated motions against a folder of reference (ground-truth) motions "
        "with the standard dance metrics. Reads our .npz, AIST++ .pkl, EDGE/MACE output .pkl, and raw joint "
        ".npz/.npy files. The table names the protocol that ran; see docs/evaluation.md.",
    )
    parser.add_argument("generated_dir", metavar="GENERATED_DIR", help="folder of generated motion files")
    parser.add_argument("gt_dir", metavar="GT_DIR", help="folder of reference (ground-truth) motion files")
    parser.add_argument(
        "--music", metavar="DIR",
        help="folder of music files; a motion's music is the file with the same name, the name in its metadata, "
        "or the longest music name that starts the motion's name (song_seed3.npz -> song.wav). Needed for BAS.",
    )  # fmt: skip
    parser.add_argument(
        "--mode", choices=MODES, default="clean",
        help="clean (default): true frame times, exact derivatives; compat: reproduce the Bailando/Lodge/MACE "
        "evaluation code, quirks included, to compare with their tables",
    )  # fmt: skip
    parser.add_argument("--fps", type=float, help="evaluate at this frame rate (default 30; Bailando's AIST++ tables: 60)")
    parser.add_argument(
        "--max-frames", type=int, help="use only the first N frames (Lodge/MACE FineDance: 1024; Bailando: 1200 at 60 fps)"
    )
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON to this file")
    parser.set_defaults(func=run)

    video = subparsers.add_parser(
        "eval-video",
        help="temporal consistency of a rendered video and its agreement with the pose video (no model weights)",
        description="Frame-to-frame PSNR/SSIM/flicker of a rendered video and, given the pose video that drove it, "
        "how well the rendered dancer covers and follows the skeleton. Learned metrics (FVD, VBench) need "
        "weights; docs/evaluation.md says how to run them.",
    )
    video.add_argument("video", metavar="VIDEO", help="rendered video (.mp4 …)")
    video.add_argument("--pose-video", metavar="POSE", help="the pose (skeleton) video the render was driven by")
    video.add_argument(
        "--background", metavar="IMG",
        help="image of the empty scene; default: the render's per-pixel temporal median (body parts that hold "
        "still for over half the clip melt into it and lower the coverage)",
    )  # fmt: skip
    video.add_argument("--max-frames", type=int, default=None, help="read at most N frames")
    video.add_argument("--json", metavar="OUT", help="also write the results as JSON to this file")
    video.set_defaults(func=run_video)


def run(args: argparse.Namespace) -> int:
    from backend.evaluation import evaluate_folders, get_protocol

    protocol = get_protocol(args.mode).with_overrides(fps=args.fps, max_frames=args.max_frames)
    with progress_bar("evaluating") as ctx:
        report = evaluate_folders(args.generated_dir, args.gt_dir, protocol, args.music, ctx)
    print(report.format_table())
    if args.json:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    return 0


def run_video(args: argparse.Namespace) -> int:
    from backend.evaluation.video import evaluate_video

    with progress_bar("checking the video") as ctx:
        result = evaluate_video(
            args.video, args.pose_video, max_frames=args.max_frames, background=args.background, ctx=ctx
        )
    print(result.format_table())
    if args.json:
        with atomic_write(args.json, "w") as handle:
            json.dump(result.to_dict(), handle, indent=2)
            handle.write("\n")
        print(f"wrote {args.json}")
    return 0
