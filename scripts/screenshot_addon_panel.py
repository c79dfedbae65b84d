#!/usr/bin/env python3
"""A screenshot of the add-on's Dance tab in a real Blender window, the sidebar at its default width.

Run inside a Blender with a window (not ``-b``), e.g. on a display-less machine under Xvfb. It needs ``xwd`` and
netpbm (``xwdtopnm``, ``pamcut``, ``pnmtopng``) to read the screen, because Blender's own screenshot reads the
GPU's front buffer, which a software-rendered X server leaves black; and ``xdotool`` to click the sidebar's tab
as a user would (Blender before 5.0 cannot set the sidebar's tab from Python):

    scripts/screenshot_addon_panel.sh                  # builds the zip, makes a dance, runs this under xvfb-run
    blender --python scripts/screenshot_addon_panel.py -- --zip build/mace_dance-0.1.0.zip \\
        --motion dance.npz --music examples/music/groove_120bpm.ogg --out docs/blender_panel.png

It installs the extension from ``--zip`` (as an animator would; skipped without it), imports ``--motion`` with the
add-on's own Import, sets ``--music``, opens the sidebar on the Dance tab, frames the dancer, then writes the
right-hand part of the 3D view (the sidebar and the dancer beside it) to ``--out`` and quits. Only ``bpy.ops``
and the add-on's scene settings are used: the add-on is the one installed from the zip, not this checkout.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bpy

argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--zip", type=Path, help="the add-on's extension zip to install first")
parser.add_argument("--motion", type=Path, help="a dance (.npz) to import")
parser.add_argument("--music", type=Path, help="the song to show in the Music field")
parser.add_argument("--out", type=Path, default=Path("docs/blender_panel.png"))
parser.add_argument("--viewport", type=int, default=420, help="pixels of the 3D view kept left of the sidebar")
ARGS = parser.parse_args(argv)


def view3d():
    window = bpy.context.window_manager.windows[0]
    area = max((a for a in window.screen.areas if a.type == "VIEW_3D"), key=lambda a: a.width * a.height)
    return window, area, next(r for r in area.regions if r.type == "UI"), next(r for r in area.regions if r.type == "WINDOW")


def set_up() -> None:
    """Install the add-on, import the dance, open the sidebar (errors end Blender with the message: a
    ``SystemExit`` raised in a timer exits the process)."""
    if ARGS.zip:
        bpy.ops.extensions.package_install_files(filepath=str(ARGS.zip.resolve()), repo="user_default",
                                                 enable_on_install=True)
    if not hasattr(bpy.types, "MACE_PT_dance"):
        raise SystemExit("the MACE-Dance add-on is not enabled (give --zip, or install it first)")
    for obj in list(bpy.data.objects):  # the start-up cube, camera and light
        bpy.data.objects.remove(obj)
    folder = Path(tempfile.mkdtemp(prefix="mace_panel_"))  # the scene is saved there, the song beside it
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "dance.blend"))
    window, area, sidebar, main = view3d()
    with bpy.context.temp_override(window=window, area=area, region=main):
        if ARGS.motion:
            bpy.ops.mace.import_motion(filepath=str(ARGS.motion.resolve()))
        if ARGS.music:  # as an animator picks it: relative to the saved scene
            shutil.copy(ARGS.music, folder / ARGS.music.name)
            bpy.context.scene.mace_dance.music_path = "//" + ARGS.music.name
        area.spaces.active.show_region_ui = True
        bpy.ops.object.select_all(action="SELECT")
        bpy.ops.view3d.view_selected()
        if bpy.data.objects:
            frame_left_of_sidebar(main, sidebar, area.spaces.active.region_3d)
        area.tag_redraw()
        bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=1)  # the sidebar and its tabs drawn
    bpy.app.timers.register(choose_tab, first_interval=1.0)


def frame_left_of_sidebar(main, sidebar, view) -> None:
    """Pan the view so that the dancer stands in the strip of the 3D view kept left of the sidebar."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d, region_2d_to_location_3d
    from mathutils import Vector

    view.update()  # the matrices of the view just framed
    corners = [obj.matrix_world @ Vector(corner) for obj in bpy.data.objects for corner in obj.bound_box]
    centre = sum(corners, Vector()) / len(corners)
    now = location_3d_to_region_2d(main, view, centre)
    wanted = Vector((sidebar.x - main.x - ARGS.viewport / 2, main.height / 2))
    view.view_location += region_2d_to_location_3d(main, view, now, centre) - \
        region_2d_to_location_3d(main, view, wanted, centre)


TAB_STEP = 16  # pixels between clicks down the sidebar's tab strip
clicked = [0]  # how far down the strip the clicks have gone


def choose_tab() -> float | None:
    """Click down the sidebar's tab strip (its right edge) until the Dance tab (the last one) is open."""
    window, _, sidebar, _ = view3d()
    if sidebar.active_panel_category == "Dance":
        bpy.app.timers.register(capture, first_interval=2.0)
        return None
    clicked[0] += TAB_STEP
    if clicked[0] > sidebar.height:
        raise SystemExit(f"found no Dance tab in the sidebar (it shows {sidebar.active_panel_category!r})")
    x, y = sidebar.x + sidebar.width - 12, window.height - (sidebar.y + sidebar.height) + clicked[0]
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True)
    return 0.4


def capture() -> None:
    """The X server's picture of the window, cut to the sidebar and the view beside it."""
    window, area, sidebar, _ = view3d()
    with bpy.context.temp_override(window=window):
        bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=1)
    left = max(area.x, sidebar.x - ARGS.viewport)
    top = window.height - (area.y + area.height)  # X counts rows from the top, Blender from the bottom
    width, height = area.x + area.width - left, area.height
    ARGS.out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(f"xwd -root -silent | xwdtopnm 2>/dev/null | pamcut {left} {top} {width} {height} "
                   f"| pnmtopng > '{ARGS.out}'", shell=True, check=True)
    print(f"wrote {ARGS.out} ({width}x{height}; sidebar {sidebar.width} px wide, Blender {bpy.app.version_string})")
    bpy.ops.wm.quit_blender()


bpy.context.preferences.view.show_splash = False
bpy.context.preferences.view.smooth_view = 0  # views change at once (a smooth one would undo the pan)
bpy.app.timers.register(set_up, first_interval=2.0)
