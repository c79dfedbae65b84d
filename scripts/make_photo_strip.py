"""Make docs/photo_strip.png: real photos and the drawn example dancing, as the CPU puppet renders them.

    .venv/bin/python scripts/make_photo_strip.py [PHOTO ...]

Two rows per photo of a person (default: the real photos in ../shared/data/photos, or
$MACE_SHARED_DATA/photos) -- the 2.5-D body (their default, marked "2.5D") above the 2D puppet (``body="2d"``,
marked "2D") -- then one row for the drawn example (examples/reference.png, the 2D puppet: a drawing's default,
``default_body``). Rendered at the default size (the photo's own frame) and shown at a common height: the opening frame
(the photo woken up), then frames of the same choreographed dance (the embedded default on the example music).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from backend.appearance.puppet import PuppetOptions, PuppetRenderer, default_body
from backend.appearance.reference import load_reference_image
from backend.appearance.request import RenderOptions, RenderRequest
from backend.config import BackendConfig
from backend.generators import select_motion_generator
from backend.motion_generation import MotionRequest

REPO = Path(__file__).resolve().parents[1]
PHOTOS = Path(os.environ.get("MACE_SHARED_DATA", REPO.parent / "shared" / "data")) / "photos"
DEFAULT = [PHOTOS / "basketball_man.png", PHOTOS / "messi.png", PHOTOS / "astronaut.png", PHOTOS / "grace_hopper.jpg",
           REPO / "examples" / "reference.png"]  # fmt: skip


def main(paths: list[str], count: int = 5, row_height: int = 200, seconds: float = 4.0) -> Path:
    references = [Path(p) for p in paths] or [p for p in DEFAULT if p.is_file()]
    music = REPO / "examples" / "music" / "groove_120bpm.ogg"
    motion = select_motion_generator(BackendConfig(motion_generator="choreographer")).generate(
        MotionRequest(audio_path=music, seed=7, duration_s=seconds)).motion  # fmt: skip
    indices = [int(i) for i in np.linspace(motion.num_frames * 0.1, motion.num_frames * 0.95, count)]
    rows = []
    for path in references:
        image = load_reference_image(path).rgb
        request = RenderRequest(motion, image, options=RenderOptions(reference_name=path.name))
        default = default_body(image, request.reference_person())
        for body in ("2d",) if default == "2d" else ("2.5d", "2d"):
            request.renderer_options = PuppetOptions(body=body)  # the person found and the plate filled once
            puppet, animation = PuppetRenderer().prepare(request)
            frames = [animation.frame(puppet, i).copy() for i in [0, *indices]]
            scale = row_height / request.height
            size = (max(int(round(request.width * scale)), 1), row_height)
            row = np.concatenate([np.asarray(Image.fromarray(f).resize(size, Image.LANCZOS)) for f in frames], axis=1)
            label = body.upper()
            cv2.putText(row, label, (6, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
            cv2.putText(row, label, (6, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
            rows.append(np.ascontiguousarray(row))
            print(f"{path.name} ({body}): {request.width}x{request.height}, {puppet.keypoints_source} keypoints")
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    target = REPO / "docs" / "photo_strip.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(target, optimize=True)
    print(f"wrote {target} (frames {indices})")
    return target


if __name__ == "__main__":
    main(sys.argv[1:])
