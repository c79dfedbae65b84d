"""MACE-Dance Studio from Python: music -> dance -> video, in-process or through a running backend.

    .venv/bin/python examples/python_api.py                       # in-process, embedded default, out/api/
    .venv/bin/python examples/python_api.py --address tcp://127.0.0.1:7557   # through `mace-dance serve`
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from shared.motion_io import save_motion

HERE = Path(__file__).resolve().parent
MUSIC = HERE / "music" / "groove_120bpm.ogg"
REFERENCE = HERE / "reference.png"


def in_process(out: Path, seconds: float) -> Path:
    """Call the backend's generator and renderer directly (what `mace-dance generate/render` do)."""
    from backend.appearance import RenderOptions, RenderRequest, select_renderer
    from backend.generators import select_motion_generator
    from backend.motion_generation import MotionRequest

    generator = select_motion_generator()  # Motion Expert if its weights are installed, else the choreographer
    result = generator.generate(MotionRequest(audio_path=MUSIC, seed=7, duration_s=seconds))
    print(f"{result.generator}: {result.motion.num_frames} frames, {result.tempo:.0f} BPM, {len(result.beats)} beats")
    save_motion(result.motion, out / "dance.npz")

    reference = np.asarray(Image.open(REFERENCE).convert("RGB"))
    request = RenderRequest(result.motion, reference, audio_path=MUSIC, width=360, height=640,
                            out_path=out / "dance.mp4", options=RenderOptions(pose_video=True))
    rendered = select_renderer().render(request)
    print(f"{rendered.renderer}: {rendered.path} ({rendered.frames} frames at {rendered.fps:g} fps)")
    return rendered.path


def through_backend(address: str, out: Path, seconds: float) -> Path:
    """The same through a running backend, as the Blender add-on does (blocking client API)."""
    from shared.atomic import atomic_write_bytes
    from shared.client import BackendClient

    with BackendClient(address, timeout_s=10.0) as client:
        hello = client.hello()
        print(f"backend {hello.backend_version}: {hello.motion_generator} + {hello.video_renderer}")
        result = client.generate_motion(MUSIC.read_bytes(), MUSIC.name, seed=7, duration_s=seconds)
        save_motion(result.motion, out / "dance.npz")
        outcome = client.render_video(result.motion, REFERENCE.read_bytes(), audio_bytes=MUSIC.read_bytes(),
                                      audio_name=MUSIC.name, width=360, height=640)
        atomic_write_bytes(out / "dance.mp4", outcome.video_bytes)
        print(f"{outcome.renderer}: {out / 'dance.mp4'} ({outcome.frames} frames at {outcome.fps:g} fps)")
    return out / "dance.mp4"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="use a running backend at this ZeroMQ address")
    parser.add_argument("--out", type=Path, default=Path("out/api"))
    parser.add_argument("--seconds", type=float, default=8.0, help="how much of the example song to dance")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.address:
        return through_backend(args.address, args.out, args.seconds)
    return in_process(args.out, args.seconds)


if __name__ == "__main__":
    main()
