"""``mace-dance render``: an (edited) SMPL motion + a reference photo -> the dance video with its music."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ._wan import add_wan_arguments, wan_options_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a dance video of a reference person",
        description="Render MOTION (.npz from `mace-dance generate` or the Blender add-on, AMASS .npz, AIST++/EDGE "
        ".pkl) as a video of the person in --reference, with the music muxed in. Uses Wan-Animate (+ MACE-Dance's "
        "adapter and LoRA) when its weights and a GPU are there, else the CPU puppet renderer, which cuts the "
        "person out of the photo and animates it (best with one person, full body, facing the camera, arms "
        "away from the body, plain background; or give --keypoints).",
    )
    parser.add_argument("motion", type=Path, help="motion file")
    parser.add_argument("--reference", type=Path, required=True, metavar="IMG",
                        help="photo of the person (png/jpg; a PNG's transparency marks the person)")
    parser.add_argument("--music", type=Path, default=None, metavar="AUDIO", help="music to mux in")
    parser.add_argument("--music-start", type=float, default=0.0, metavar="S",
                        help="the motion starts S seconds into the music (as `generate --start`)")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="OUT.mp4", help="video to write")
    parser.add_argument("--renderer", choices=("auto", "wan", "puppet"), default="auto",
                        help="auto: Wan-Animate if installed and a GPU is present, else puppet (default)")
    parser.add_argument("--body", choices=("2d", "2.5d"), default=None,
                        help="the CPU puppet's body: 2.5d (the person lifted onto a posed 3D body, animated in 3D: arms "
                        "in front of the body and held things stay whole; the default for a photo) or 2d (flat "
                        "layers; the default for a drawing)")
    parser.add_argument("--width", type=int, default=None,
                        help="video width in pixels (default: the photo's own aspect, long side 720-1280; "
                        "with only --height, the photo's aspect)")
    parser.add_argument("--height", type=int, default=None,
                        help="video height in pixels (default: as --width); a size of another aspect than the "
                        "photo's crops around the person")
    parser.add_argument("--fps", type=float, default=None, help="frame rate (default: the motion's)")
    parser.add_argument("--pose-video", type=Path, default=None, metavar="PATH", help="also write the pose video")
    parser.add_argument("--side-by-side", type=Path, default=None, metavar="PATH",
                        help="also write pose video | render side by side")
    parser.add_argument("--keypoints", type=Path, default=None, metavar="JSON",
                        help='reference keypoints: {"left_shoulder": [x, y], ...} in image pixels (COCO-18 names '
                        "+ left_toe/right_toe) or a list of 18/20 [x, y]")
    parser.add_argument("--person", type=int, default=1, metavar="N",
                        help="which person to animate when the photo shows several (1 = the largest, default)")
    parser.add_argument("--pose-style", choices=("wan", "dwpose"), default="wan", help="pose video style")
    parser.add_argument("--camera", choices=("orthographic", "perspective"), default="orthographic",
                        help="projection of the motion (default orthographic front view)")
    parser.add_argument("--yaw", type=float, default=0.0, metavar="DEG", help="turn the camera around the dancer")
    parser.add_argument("--hands", action=argparse.BooleanOptionalAction, default=None,
                        help="draw synthetic hands in the pose video (default: on for Wan-Animate, off otherwise)")
    parser.add_argument("--device", default="auto", help="torch device (auto, cuda, cuda:1, cpu)")
    parser.add_argument("--resume", action="store_true",
                        help="continue a Wan-Animate render that stopped, from its last finished segment (kept in "
                        "OUT.mp4.segments/ while it runs); the video equals an uninterrupted one")
    add_wan_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared.errors import InvalidInputError
    from shared.motion_io import load_motion

    from ..appearance import RenderOptions, select_renderer
    from ..appearance.keypoints import Camera
    from ..appearance.reference import load_keypoints_json
    from ..config import BackendConfig
    from ..jobwork import reference_render_request
    from ._progress import progress_bar

    motion = load_motion(args.motion)
    options = RenderOptions(
        reference_keypoints=None if args.keypoints is None else load_keypoints_json(args.keypoints),
        reference_person=args.person, reference_name=args.reference.name,
        audio_offset_s=args.music_start, pose_style=args.pose_style,
        camera=Camera(projection=args.camera, yaw_deg=args.yaw), hands=args.hands,
        pose_video_path=args.pose_video, side_by_side_path=args.side_by_side,
    )  # fmt: skip

    wan_options = wan_options_from_args(args)
    config = BackendConfig(device=args.device, video_renderer=args.renderer)
    renderer = select_renderer(config, args.renderer, wan_options=wan_options)
    renderer_options = None
    if args.body is not None:
        if renderer.name != "puppet":
            raise InvalidInputError(f"--body is an option of the CPU puppet renderer, not of {renderer.name}",
                                    hint="add --renderer puppet, or leave --body out")
        renderer_options = renderer.request_options({"body": args.body})
    segments_dir = args.out.with_name(args.out.name + ".segments")
    if not args.resume:
        shutil.rmtree(segments_dir, ignore_errors=True)  # a fresh render starts from its first segment
    request = reference_render_request(args.reference, options=options, motion=motion, audio_path=args.music,
                                       width=args.width, height=args.height, fps=args.fps, out_path=args.out,
                                       checkpoint_dir=segments_dir,  # the photo's alpha folded in there
                                       renderer_options=renderer_options)
    with progress_bar(f"rendering ({renderer.name})") as ctx:
        result = renderer.render(request, ctx)
    print(f"video:        {result.path}  ({result.frames} frames at {result.fps:g} fps, {result.made_by})")
    if result.pose_video_path:
        print(f"pose video:   {result.pose_video_path}")
    if result.side_by_side_path:
        print(f"side by side: {result.side_by_side_path}")
    return 0
