"""A frame strip of a dance: stick figures drawn with Pillow, for docs and quick visual checks.

    .venv/bin/python -m backend.choreography.preview MUSIC OUT.png [--seed 0] [--start 0] [--frames 8]

Each panel shows the dancer from the front (SMPL +Z towards the viewer, the dancer's left on the
picture's right) at one beat, with the floor line and the move name.
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


def main() -> None:
    from backend.features import analyze_music

    from .choreographer import choreograph
    from .planner import make_grid

    parser = argparse.ArgumentParser(description="Draw a frame strip of the default dance")
    parser.add_argument("music", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=float, default=0.0, help="seconds into the music")
    parser.add_argument("--frames", type=int, default=8, help="panels, one per beat")
    parser.add_argument("--every", type=int, default=1, help="beats between panels")
    args = parser.parse_args()

    features = analyze_music(args.music, start_s=args.start, duration_s=60.0)
    motion, placements = choreograph(features, seed=args.seed)
    beats = features.beat_times[:: args.every][1 : args.frames + 1]
    frames = [min(int(round(t * motion.fps)), motion.num_frames - 1) for t in beats]
    grid_positions = make_grid(features).position(np.asarray(frames) / motion.fps)
    labels = []
    for position in grid_positions:
        names = [p.move.name for p in placements if p.start_beat <= position < p.end_beat]
        labels.append(names[0] if names else "")
    image = frame_strip(motion, frames, labels)
    with atomic_write(args.out, "wb") as handle:
        image.save(handle, format="PNG")
    print(f"wrote {args.out} ({len(frames)} panels)")


if __name__ == "__main__":
    main()
