"""A frame strip of a dance: stick figures drawn with Pillow, for docs and quick visual checks.

    .venv/bin/python -m backend.choreography.dance_strip MUSIC OUT.png [--seed 0] [--start 0 | --loudest]
        [--genre G] [--mocap DIR] [--frames 8] [--every 1]

Each panel shows the dancer from the front (SMPL +Z towards the viewer, the dancer's left on the
picture's right) at one beat, with the floor line and the move name (or, with ``--mocap``, the take and
frame the motion-graph segment comes from).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from shared.atomic import atomic_write
from shared.kinematics import forward_kinematics
from shared.motion import Motion
from shared.skeleton import PARENTS

_LEFT = {1, 4, 7, 10, 13, 16, 18, 20, 22}
_RIGHT = {2, 5, 8, 11, 14, 17, 19, 21, 23}
_COLOURS = {"left": (52, 120, 246), "right": (235, 87, 87), "centre": (40, 40, 40)}


def frame_strip(
    motion: Motion, frames: list[int], labels: list[str] | None = None, panel: tuple[int, int] = (180, 260)
):
    """A Pillow image with one stick figure per frame index, side by side (front view)."""
    from PIL import Image, ImageDraw

    joints = forward_kinematics(motion.poses[frames], motion.trans[frames])
    width, height = panel
    image = Image.new("RGB", (width * len(frames), height), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    scale = (height - 40) / 2.0  # 2 m of height fits a panel
    for k, pose in enumerate(joints):
        centre_x = k * width + width / 2
        origin_x = pose[0, 0]

        def to_pixel(point):
            # Front view: the dancer's left (+X) appears on the picture's right.
            return centre_x + (point[0] - origin_x) * scale, height - 24 - point[1] * scale

        draw.line([(k * width + 10, height - 24), ((k + 1) * width - 10, height - 24)], fill=(160, 160, 160), width=2)
        for joint, parent in enumerate(PARENTS):
            if parent < 0:
                continue
            side = "left" if joint in _LEFT else "right" if joint in _RIGHT else "centre"
            draw.line([to_pixel(pose[parent]), to_pixel(pose[joint])], fill=_COLOURS[side], width=5)
        head = to_pixel(pose[15])
        draw.ellipse([head[0] - 11, head[1] - 24, head[0] + 11, head[1] - 2], outline=_COLOURS["centre"], width=3)
        if labels:
            draw.text((k * width + 8, height - 18), labels[k][:26], fill=(60, 60, 60))
    return image


def loudest_start(music: Path, window_s: float = 10.0) -> float:
    """Start (seconds) of the loudest ``window_s`` of a track, by the planner's loudness."""
    from backend.features import analyze_music

    from .planner import loudness_rank

    features = analyze_music(music)
    loud = loudness_rank(features.energy)
    width = max(int(window_s * features.fps), 1)
    if len(loud) <= width:
        return 0.0
    mean = np.convolve(loud, np.ones(width) / width, mode="valid")
    return float(np.argmax(mean) / features.fps)


def main() -> None:
    from backend.features import analyze_music

    from .choreographer import choreograph
    from .planner import make_grid

    parser = argparse.ArgumentParser(description="Draw a frame strip of a generated dance")
    parser.add_argument("music", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--genre", default=None, help="a FineDance genre (shared.genres.GENRES)")
    parser.add_argument("--start", type=float, default=0.0, help="seconds into the music")
    parser.add_argument("--loudest", action="store_true", help="start at the loudest 10 s of the music")
    parser.add_argument("--mocap", type=Path, default=None, help="dance segments of the mocap in this folder")
    parser.add_argument("--frames", type=int, default=8, help="panels, one per beat")
    parser.add_argument("--every", type=int, default=1, help="beats between panels")
    args = parser.parse_args()

    start = loudest_start(args.music) if args.loudest else args.start
    features = analyze_music(args.music, start_s=start, duration_s=60.0)
    if args.mocap is not None:
        from .mocap import load_library
        from .motion_graph import MotionGraph, graph_choreograph

        graph = MotionGraph.build(load_library(args.mocap))
        motion, picks = graph_choreograph(features, graph, seed=args.seed)
        spans = [(p.beat, p.beat + p.beats, graph.segments[p.segment]) for p in picks]
        describe = lambda span: f"{Path(graph.clips[span[2].clip].name).stem}@{span[2].start}"  # noqa: E731
    else:
        motion, placements = choreograph(features, seed=args.seed, genre=args.genre)
        spans = [(p.start_beat, p.end_beat, p.move.name) for p in placements]
        describe = lambda span: span[2]  # noqa: E731
    beats = features.beat_times[:: args.every][1 : args.frames + 1]
    frames = [min(int(round(t * motion.fps)), motion.num_frames - 1) for t in beats]
    grid_positions = make_grid(features).position(np.asarray(frames) / motion.fps)
    labels = []
    for position in grid_positions:
        names = [describe(span) for span in spans if span[0] <= position < span[1]]
        labels.append(names[0] if names else "")
    image = frame_strip(motion, frames, labels)
    with atomic_write(args.out, "wb") as handle:
        image.save(handle, format="PNG")
    print(f"wrote {args.out} ({len(frames)} panels from {start:.1f} s)")


if __name__ == "__main__":
    main()
