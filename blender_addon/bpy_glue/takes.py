"""Takes and the edit layer: generated motion is never overwritten by the animator, nor the animator's keys
by a generation.

Each generation (or imported motion) is a **take**: an action played by an NLA strip on its own track named
``Take: <action>``. One take track is live, the others are muted (switch with :func:`set_active_take`). Above
the NLA stack sits the **edit layer**, the armature's active action ``<armature> edits``, blended in Combine
mode: the animator's keys (made as usual, Blender maps them through the stack) add to the take underneath,
the way mocap is cleaned up. Regenerating writes a new take and leaves the edit layer alone.
"""

from __future__ import annotations

import bpy

from .. import compat

TRACK_PREFIX = "Take: "
PROP_TAKE = "mace_take"
PROP_EDIT_LAYER = "mace_edit_layer"
LAYER_SUFFIX = " edits"


#: Characters of the song's name kept in a take name (the rest of the sidebar row is the take's own).
SONG_CHARS = 14


def short_song(song: str | None) -> str:
    """A song's file name, shortened for a take list: its stem, the title part of ``artist__title``, cut to
    :data:`SONG_CHARS` with an ellipsis."""
    import os

    stem = os.path.splitext(os.path.basename(song))[0] if song else "motion"
    stem = stem.split("__")[-1] or stem
    return stem if len(stem) <= SONG_CHARS else stem[: SONG_CHARS - 1] + "…"


def take_name(obj, song: str | None, seed: int | None, genre: str | None = None) -> str:
    """The name of a new take, led by what tells takes apart: ``"T3 s42 house crossroads"`` (take number on
    ``obj``, seed, genre; then the song, shortened). The number grows until the name is new, so Blender never
    appends ``.001``."""
    number = len(take_tracks(obj)) + 1 if obj is not None else 1
    parts = [f"s{seed}" if seed is not None else "", (genre or "").lower(), short_song(song)]
    while True:
        name = " ".join(part for part in [f"T{number}", *parts] if part)
        if name not in bpy.data.actions:
            return name
        number += 1


def take_tracks(obj) -> list:
    """The armature's take tracks, bottom to top."""
    anim = obj.animation_data
    if anim is None:
        return []
    return [track for track in anim.nla_tracks
            if len(track.strips) and track.strips[0].action is not None and track.strips[0].action.get(PROP_TAKE)]


def active_take(obj):
    """The live take's NLA strip (the topmost unmuted take track), or None."""
    live = [track for track in take_tracks(obj) if not track.mute]
    return live[-1].strips[0] if live else None


def set_active_take(obj, track_name: str) -> None:
    """Make the take on track ``track_name`` live and mute the others."""
    tracks = take_tracks(obj)
    if track_name not in [track.name for track in tracks]:
        raise KeyError(track_name)
    for track in tracks:
        track.mute = track.name != track_name


def add_take(obj, action: bpy.types.Action, frame_start: int) -> bpy.types.NlaTrack:
    """Put ``action`` on a new take track of ``obj`` and make it the live take (the others are muted)."""
    anim = obj.animation_data or obj.animation_data_create()
    action[PROP_TAKE] = True
    action.use_fake_user = True  # a take survives even if its track is deleted
    track = anim.nla_tracks.new()
    track.name = TRACK_PREFIX + action.name
    try:
        strip = compat.new_take_strip(track, action, frame_start, compat.ensure_slot(action, obj))
        strip.extrapolation = "HOLD"
    except Exception:
        anim.nla_tracks.remove(track)
        raise
    set_active_take(obj, track.name)
    ensure_edit_layer(obj)
    return track


def ensure_edit_layer(obj) -> bpy.types.Action:
    """The armature's edit layer (its active action, blended in Combine mode), created empty if missing.

    An action the animator assigned themselves is respected as the layer (it gets Combine blending)."""
    anim = obj.animation_data or obj.animation_data_create()
    if anim.action is None:
        layer = bpy.data.actions.new(obj.name + LAYER_SUFFIX)
        layer[PROP_EDIT_LAYER] = True
        compat.assign_action(obj, layer)
        compat.channel_owner(obj, layer, ensure=True)
    anim.action_blend_type = "COMBINE"
    anim.action_influence = 1.0
    return anim.action


def edit_layer_channels(obj):
    """F-curve owner of the edit layer, or None when it holds nothing."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return None
    return compat.channel_owner(obj, anim.action)


def regenerated_take(obj, motion, mask, frames, name: str) -> bpy.types.NlaTrack:
    """A new live take: a copy of the live take in which only the cells ``mask`` frees are set from ``motion``.

    Args:
        motion: ``shared.motion.Motion`` (T frames, the regenerated dance).
        mask: ``shared.keep.KeepMask`` (T frames): kept cells are not touched -- their keys, interpolation and
            handles stay exactly as they were; free cells get ``motion``'s value (keys inserted where the take
            has none at that frame).
        frames: (T,) Blender frames of the motion's frames.

    The old take stays (muted) and the edit layer is not touched.
    """
    import numpy as np

    from ..convert import smpl_to_armature as to_armature
    from .._shared import body_mesh, skeleton as smpl_skeleton
    from . import action as action_glue, armature as armature_glue

    strip = active_take(obj)
    if strip is None:
        raise ValueError(f"{obj.name} has no live take")
    keys = to_armature.pose_keys(motion.poses, motion.trans, armature_glue.rig_frames(obj))
    action = strip.action.copy()
    action.name = name
    try:
        owner = compat.action_channels(action, compat.ensure_slot(action, obj), ensure=True)

        def curve(data_path: str, index: int, group: str):
            found = owner.fcurves.find(data_path, index=index)
            if found is None:
                bone_group = owner.groups.get(group) or owner.groups.new(group)
                found = compat.new_fcurve(owner, data_path, index, bone_group)
            return found

        for j, bone in enumerate(smpl_skeleton.JOINT_NAMES):
            free = ~mask.joints[:, j]
            if not free.any():
                continue
            path = to_armature.rotation_data_path(bone)
            curves = [curve(path, i, bone) for i in range(4)]
            values = keys.quaternions[free, j]
            current = np.array([[fc.evaluate(float(f)) for fc in curves] for f in frames[free]])
            values = np.where((np.sum(values * current, axis=-1) < 0)[:, None], -values, values)  # no flips at seams
            for i, fc in enumerate(curves):
                action_glue.set_key_values(fc, frames[free], values[:, i])
        free = ~mask.translation
        if free.any():
            pelvis = smpl_skeleton.JOINT_NAMES[0]
            for bone, values in ((body_mesh.ROOT_BONE, keys.location), (pelvis, keys.pelvis_location)):
                path = to_armature.location_data_path(bone)
                for i in range(3):
                    action_glue.set_key_values(curve(path, i, bone), frames[free], values[free, i])
        return add_take(obj, action, int(strip.frame_start))
    except Exception:
        bpy.data.actions.remove(action)
        raise
