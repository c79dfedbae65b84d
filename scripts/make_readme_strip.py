"""Make docs/demo_strip.png from the demo's output: rendered frames above the pose frames that drove them.

    bash scripts/demo.sh && .venv/bin/python scripts/make_readme_strip.py out/demo
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from backend.appearance.video_io import read_frames
from shared.motion_io import load_motion

REPO = Path(__file__).resolve().parents[1]


def frames_at(path: Path, indices: list[int]) -> list[np.ndarray]:
    wanted = set(indices)
    frames = {i: f for i, f in enumerate(read_frames(path, max_frames=max(indices) + 1)) if i in wanted}
    return [frames[i] for i in indices]


def main(out_dir: str = "out/demo", count: int = 8, height: int = 320) -> Path:
    out = Path(out_dir)
    video = next(out.glob("*_dance.mp4"))
    pose = video.with_name(video.stem + "_pose.mp4")
    total = load_motion(next(out.glob("*.npz"))).num_frames  # the video has one frame per motion frame
    indices = [int(i) for i in np.linspace(total * 0.05, total * 0.95, count)]
    rows = []
    for path in (video, pose):
        frames = [Image.fromarray(f) for f in frames_at(path, indices)]
        scaled = [f.resize((round(f.width * height / f.height), height), Image.LANCZOS) for f in frames]
        rows.append(np.concatenate([np.asarray(f) for f in scaled], axis=1))
    target = REPO / "docs" / "demo_strip.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(target, optimize=True)
    print(f"wrote {target} (frames {indices} of {video.name})")
    return target


if __name__ == "__main__":
    main(*sys.argv[1:2])
