"""Make docs/demo_strip.png from the demo's output: rendered frames above the pose frames that drove them.

    bash scripts/demo.sh && .venv/bin/python scripts/make_readme_strip.py out/demo
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def read_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    wanted, frames = set(indices), {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames[index] = frame.to_ndarray(format="rgb24")
    return [frames[i] for i in indices]


def main(out_dir: str = "out/demo", count: int = 8, height: int = 320) -> Path:
    out = Path(out_dir)
    video = next(out.glob("*_dance.mp4"))
    pose = video.with_name(video.stem + "_pose.mp4")
    with av.open(str(video)) as container:
        total = container.streams.video[0].frames or sum(1 for _ in container.decode(video=0))
    indices = [int(i) for i in np.linspace(total * 0.05, total * 0.95, count)]
    rows = []
    for path in (video, pose):
        frames = [Image.fromarray(f) for f in read_frames(path, indices)]
        scaled = [f.resize((round(f.width * height / f.height), height), Image.LANCZOS) for f in frames]
        rows.append(np.concatenate([np.asarray(f) for f in scaled], axis=1))
    target = REPO / "docs" / "demo_strip.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(target, optimize=True)
    print(f"wrote {target} (frames {indices} of {video.name})")
    return target


if __name__ == "__main__":
    main(*sys.argv[1:2])
