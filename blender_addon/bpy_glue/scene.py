"""Scene-level effects of an import: frame rate and range, the music as a sound strip, beat markers."""

from __future__ import annotations

import math
import os

import bpy
import numpy as np

from .. import compat

SOUND_STRIP_NAME = "Dance music"
BEAT_MARKER_PREFIX = "beat "


def set_frame_rate(scene: bpy.types.Scene, fps: float) -> None:
    """Set ``scene`` to ``fps`` exactly (integer ``render.fps`` plus ``fps_base`` for rates like 29.97)."""
    whole = max(1, int(math.ceil(fps - 1e-6)))
    scene.render.fps = whole
    scene.render.fps_base = whole / fps


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def set_frame_range(scene: bpy.types.Scene, frame_start: int, num_frames: int) -> None:
    scene.frame_start = frame_start
    scene.frame_end = frame_start + max(num_frames, 1) - 1


def set_sound_strip(scene: bpy.types.Scene, audio_path: str, frame_start: int) -> str | None:
    """Put the music on the sequencer at ``frame_start`` (replacing the strip an earlier import added).

    Returns None, or a warning when Blender cannot load the sound (a build without audio support, a
    format it does not read): the dance is still imported, only without its music strip.
    """
    strips = compat.sound_strips(scene)
    old = strips.get(SOUND_STRIP_NAME)
    if old is not None:
        strips.remove(old)
    try:
        strips.new_sound(SOUND_STRIP_NAME, os.path.abspath(audio_path), channel=1, frame_start=frame_start)
    except RuntimeError as exc:
        return f"music strip not added ({str(exc).strip()})"
    scene.use_audio_scrub = True
    return None


def set_beat_markers(scene: bpy.types.Scene, beats_s: np.ndarray, fps: float, frame_start: int) -> int:
    """Replace the add-on's beat markers with one per beat time (seconds). Returns the number placed.

    Markers the animator made (any other name) are left alone.
    """
    markers = scene.timeline_markers
    for marker in [m for m in markers if m.name.startswith(BEAT_MARKER_PREFIX)]:
        markers.remove(marker)
    beats = np.asarray(beats_s, dtype=np.float64).ravel()
    for i, seconds in enumerate(beats[np.isfinite(beats)]):
        markers.new(f"{BEAT_MARKER_PREFIX}{i + 1}", frame=frame_start + int(round(seconds * fps)))
    return len(beats)


def frame_in_views(context, obj) -> None:
    """Frame ``obj`` (and its children) in every 3D view of the window, as View Selected does; nothing in
    background mode, where there are no views."""
    window = getattr(context, "window", None)
    screen = getattr(window, "screen", None) if window is not None else None
    if screen is None:
        return
    for area in screen.areas:
        if area.type != "VIEW_3D":
            continue
        region = next((r for r in area.regions if r.type == "WINDOW"), None)
        if region is None:
            continue
        with context.temp_override(window=window, area=area, region=region):
            bpy.ops.view3d.view_selected(use_all_regions=False)
