#!/usr/bin/env python3
"""Render the README's pictures of the add-on: the imported dancer, and the dance retargeted onto a rig Rigify
generated (keys on its FK/IK controls), both standing on a floor.

    .venv/bin/python scripts/render_addon_pictures.py            # -> docs/blender_dancer.png, docs/blender_retarget.png
    blender -b -P scripts/render_addon_pictures.py -- --out DIR

The dance comes from the embedded choreographer (``python -m backend.cli generate`` in a subprocess with this
Python, on the example song); the character is a rig Rigify generates from its Basic Human metarig (bpy 5.0:
Rigify does not run in the 4.2/4.5 module builds), its deforming bones dressed in boxes built here. Workbench
renders, in background mode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from blender_addon.bpy_glue import importer, retarget  # noqa: E402
from blender_addon.convert.retarget import auto_map  # noqa: E402
from shared.motion_io import load_motion  # noqa: E402

MUSIC = ROOT / "examples" / "music" / "groove_120bpm.ogg"


def make_dance(folder: Path) -> Path:
    python = os.environ.get("MACE_DANCE_BACKEND_PYTHON", sys.executable)
    subprocess.run([python, "-m", "backend.cli", "generate", str(MUSIC), "-o", str(folder), "--seed", "3",
                    "--duration", "6", "--generator", "choreographer", "--no-preview"], cwd=ROOT, check=True)
    return next(folder.glob("*.npz"))


def camera(scene, location, target) -> None:
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.location = location
    direction = np.asarray(target, float) - np.asarray(location, float)
    from mathutils import Vector

    cam.rotation_euler = Vector(direction.tolist()).to_track_quat("-Z", "Y").to_euler()
    cam.data.lens = 40


def render(scene, path: Path) -> None:
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "OBJECT"
    scene.display.shading.show_shadows = True
    scene.render.resolution_x, scene.render.resolution_y = 960, 540
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    print(f"wrote {path}")


def floor(scene) -> None:
    bpy.ops.mesh.primitive_plane_add(size=12)
    plane = bpy.context.active_object
    plane.color = (0.75, 0.75, 0.78, 1.0)


def box_body(rig) -> None:
    """Dress the rig's deforming bones (``DEF-``) in one box each (so the picture shows a body, not sticks)."""
    for bone in rig.data.bones:
        if not bone.name.startswith("DEF-") or bone.length < 0.05 or not any(
                key in bone.name for key in ("spine", "thigh", "shin", "foot", "upper_arm", "forearm", "hand",
                                             "shoulder")):
            continue
        bpy.ops.mesh.primitive_cube_add(size=1.0)
        cube = bpy.context.active_object
        width = 0.16 if "spine" in bone.name else 0.08
        cube.scale = (width, bone.length, width * 0.8)
        cube.color = (0.85, 0.45, 0.25, 1.0)
        cube.parent = rig
        cube.parent_type = "BONE"
        cube.parent_bone = bone.name
        cube.location = (0.0, -bone.length / 2, 0.0)  # the bone's middle (parented at the tail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--frame", type=int, default=100)
    args = parser.parse_args(argv)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with tempfile.TemporaryDirectory() as tmp:
        motion = load_motion(make_dance(Path(tmp)))
    scene = bpy.context.scene
    result = importer.import_motion(bpy.context, motion, name="groove seed 3")
    body = next(child for child in result.armature.children if child.type == "MESH")
    body.color = (0.3, 0.55, 0.85, 1.0)
    floor(scene)
    scene.frame_set(args.frame)
    pelvis = np.array(result.armature.pose.bones["pelvis"].head)
    camera(scene, pelvis + [2.2, -4.2, 0.6], pelvis + [0, 0, -0.05])
    render(scene, args.out / "blender_dancer.png")

    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_basic_human_metarig_add()
    metarig = bpy.context.active_object
    bpy.ops.pose.rigify_generate()
    character = bpy.context.active_object
    bpy.data.objects.remove(metarig)
    character.location = (1.4, 0.0, 0.0)  # beside the dancer
    bpy.context.view_layer.update()
    box_body(character)
    _, mapping = auto_map([bone.name for bone in character.data.bones])
    retarget.retarget_onto(bpy.context, result.armature, character, mapping)
    scene.frame_set(args.frame)
    middle = (pelvis + np.array(character.matrix_world @ character.pose.bones["ORG-spine"].head)) / 2
    camera(scene, middle + [2.4, -5.4, 0.7], middle + [0, 0, -0.1])
    render(scene, args.out / "blender_retarget.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
