"""Make docs/photo_strip.png: real photos and the drawn example dancing, as the CPU puppet renders them.

    .venv/bin/python scripts/make_photo_strip.py [PHOTO ...]

One row per reference (default: the real photos in ../shared/data/photos, then examples/reference.png): the
photo as given, then frames of the same choreographed dance (the embedded default on the example music).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from backend.appearance.puppet import Puppet, PuppetAnimation
from backend.appearance.reference import load_reference_image
from backend.appearance.request import RenderOptions, RenderRequest
from backend.config import BackendConfig
from backend.generators import select_motion_generator
from backend.motion_generation import MotionRequest

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "photos"
DEFAULT = [PHOTOS / "basketball_man.png", PHOTOS / "messi.png", PHOTOS / "astronaut.png", REPO / "examples" / "reference.png"]


def main(paths: list[str], count: int = 6, width: int = 240, height: int = 320, seconds: float = 4.0) -> Path:
    references = [Path(p) for p in paths] or [p for p in DEFAULT if p.is_file()]
    music = REPO / "examples" / "music" / "groove_120bpm.ogg"
    motion = select_motion_generator(BackendConfig(motion_generator="choreographer")).generate(
        MotionRequest(audio_path=music, seed=7, duration_s=seconds)).motion  # fmt: skip
    indices = [int(i) for i in np.linspace(motion.num_frames * 0.1, motion.num_frames * 0.95, count)]
    rows = []
    for path in references:
        request = RenderRequest(motion, load_reference_image(path).rgb, width=width, height=height,
                                options=RenderOptions(reference_name=path.name))  # fmt: skip
        puppet = Puppet(request.canvas_reference())
        animation = PuppetAnimation.from_motion(motion, puppet)
        zoom, shift = animation.stage_fit(puppet, width, height)
        if not puppet.pinned and (zoom < 0.999 or max(abs(shift[0]), abs(shift[1])) >= 1.0):
            puppet = Puppet(request.canvas_reference(zoom, shift))
            animation = PuppetAnimation.from_motion(motion, puppet)
        photo = request.canvas_reference().image
        rows.append(np.concatenate([photo] + [animation.frame(puppet, i) for i in indices], axis=1))
        print(f"{path.name}: {puppet.keypoints_source} keypoints, {len(puppet.layers)} layers")
    target = REPO / "docs" / "photo_strip.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(target, optimize=True)
    print(f"wrote {target} (frames {indices})")
    return target


if __name__ == "__main__":
    main(sys.argv[1:])
