"""Make a dance without opening Blender's window: music -> SMPL armature (-> video) -> .blend.

    blender -b --python-exit-code 1 -P examples/blender_batch.py -- --music song.wav --out out/
    blender -b -P examples/blender_batch.py -- --music song.wav --reference me.png --out out/ --start-backend
    python examples/blender_batch.py -- --music song.wav --out out/          # with the bpy module (pip install bpy)

It uses the installed MACE-Dance extension if Blender has one, else the add-on of this checkout. The
backend must be running (``mace-dance serve``) unless ``--start-backend`` is given, which starts one here
and stops it at the end. Writes ``DIR/dance.blend``, ``DIR/motion.npz`` (the imported motion, SMPL) and,
with ``--reference``, ``DIR/dance.mp4``. Exit code 0 on success, 1 with a message on any error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import bpy

CHECKOUT = Path(__file__).resolve().parents[1]
EXTENSION_MODULE = "bl_ext.user_default.mace_dance"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="blender -b -P examples/blender_batch.py --",
                                     description="Generate a dance from music in background Blender.")
    parser.add_argument("--music", required=True, help="music file (wav, mp3, flac, ogg, opus, m4a, ... or a video's sound)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--reference", help="reference image: also render the dance video with this character")
    parser.add_argument("--address", help="backend address (default: the add-on preference, tcp://127.0.0.1:7557)")
    parser.add_argument("--start-backend", action="store_true", help="start a local backend if none answers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--genre", default="AUTO", help="dance genre, e.g. Hiphop (default: chosen from the music)")
    parser.add_argument("--length", type=float, default=0.0, help="seconds of dance (default: the whole song)")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("W", "H"), help="video size")
    return parser.parse_args(argv)


def enable_addon():
    """Enable the installed extension, or register the add-on of this checkout; return its module."""
    import addon_utils

    if EXTENSION_MODULE in {mod.__name__ for mod in addon_utils.modules()}:
        name = EXTENSION_MODULE
    else:
        sys.path.insert(0, str(CHECKOUT))
        name = "blender_addon"
    module = addon_utils.enable(name, default_set=True, handle_error=None)
    if module is None:
        raise SystemExit(f"could not enable the MACE-Dance add-on ({name})")
    return module


def run(args: argparse.Namespace) -> None:
    addon = enable_addon()
    preferences = sys.modules[f"{addon.__name__}.preferences"]
    prefs = preferences.get(bpy.context)
    if args.address:
        prefs.address = args.address
    prefs.start_local = args.start_backend

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = bpy.context.scene.mace_dance
    settings.music_path = os.path.abspath(args.music)
    settings.seed, settings.genre, settings.length_s = args.seed, args.genre, args.length

    bpy.ops.mace.generate()
    print(bpy.context.window_manager.mace_dance_status.message)
    armature = next(obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE")
    bpy.context.view_layer.objects.active = armature
    bpy.ops.mace.export_motion(filepath=str(out / "motion.npz"))

    if args.reference:
        settings.reference_image = os.path.abspath(args.reference)
        settings.output_path = str(out / "dance.mp4")
        settings.width, settings.height = args.size
        bpy.ops.mace.render_reference()
        print(bpy.context.window_manager.mace_dance_status.message)

    bpy.ops.wm.save_as_mainfile(filepath=str(out / "dance.blend"))
    print(f"saved {out / 'dance.blend'}")
    sys.modules[f"{addon.__name__}.jobs"].SESSION.shutdown()  # stop a backend started here


def main() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    args = parse_args(argv)
    try:
        run(args)
    except RuntimeError as exc:  # what a failed operator raises in background mode, with its report text
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)  # `blender -b -P` needs --python-exit-code 1 to pass this on
