"""Import a ``shared.motion.Motion`` as an animated SMPL armature (one new action per import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import bpy
import numpy as np

from .._shared import body_mesh, errors
from ..convert import smpl_to_armature as to_armature
from . import action as action_glue, armature as armature_glue, scene as scene_glue, takes


@dataclass
class ImportResult:
    armature: bpy.types.Object
    action: bpy.types.Action
    created_armature: bool
    warnings: list[str]


def import_motion(context, motion, *, name: str, armature: bpy.types.Object | None = None, skeleton=None,
                  audio_path: str | None = None, beats_s: np.ndarray | None = None,
                  frame_start: int = 1, smpl_model: dict | None = None) -> ImportResult:
    """Put ``motion`` on an SMPL armature as a new take (an action on its own NLA track) named ``name``.

    Args:
        motion: ``shared.motion.Motion`` (poses (T, 24, 3) axis-angle rad, trans (T, 3) m, Y-up).
        armature: an existing SMPL armature to receive the new take (its other takes are muted, its edit
            layer is left as it is); None creates a new armature in the scene's active collection.
        skeleton: rest skeleton for a new armature (default: the EDGE/MACE skeleton).
        smpl_model: arrays of an SMPL model file (the one ``skeleton`` was regressed from): a new armature
            wears its mesh instead of the procedural low-poly body.
        audio_path: the music, added as a sound strip at ``frame_start``.
        beats_s: (N,) beat times in seconds, placed as timeline markers.

    Everything is checked and computed before Blender data is touched; if writing fails half-way, what
    was created is removed and the scene's frame rate and range are restored.
    """
    if armature is not None:
        armature_glue.check_smpl_armature(armature)
    if audio_path is not None and not os.path.isfile(audio_path):
        raise errors.InvalidInputError(f"music file not found: {audio_path}", hint="choose an existing audio file")
    rest = body_mesh.rig_rest(skeleton) if armature is None else None
    if rest is not None:
        body = body_mesh.procedural_body(rest) if smpl_model is None else body_mesh.smpl_body(smpl_model, motion.betas, rest)

    scene = context.scene
    saved = (scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end)
    created = armature is None
    action = body_obj = track = None
    anim = None if created else armature.animation_data
    layer_before = anim.action if anim is not None else None
    live_before = [t.name for t in takes.take_tracks(armature) if not t.mute] if not created else []
    try:
        if created:
            collection = context.collection or scene.collection
            armature = armature_glue.build_armature(collection, rest, "SMPL", motion.betas, motion.gender)
            body_obj = armature_glue.add_body(armature, body)
        else:
            for pose_bone in armature.pose.bones:
                pose_bone.rotation_mode = "QUATERNION"
        keys = to_armature.pose_keys(motion.poses, motion.trans, armature_glue.rig_frames(armature), frame_start)
        curves = to_armature.fcurve_keys(keys)
        action = action_glue.write_action(armature, name, curves, fps=motion.fps, frame_start=frame_start,
                                          num_frames=motion.num_frames)
        track = takes.add_take(armature, action, frame_start)
        scene_glue.set_frame_rate(scene, motion.fps)
        scene_glue.set_frame_range(scene, frame_start, motion.num_frames)
        warnings = []
        if audio_path is not None:
            warning = scene_glue.set_sound_strip(scene, audio_path, frame_start)
            warnings += [warning] if warning else []
        if beats_s is not None:
            scene_glue.set_beat_markers(scene, beats_s, motion.fps, frame_start)
    except Exception:
        (scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end) = saved
        if track is not None:
            armature.animation_data.nla_tracks.remove(track)
        if action is not None:
            bpy.data.actions.remove(action)
        if armature is not None:
            for live in live_before:
                takes.set_active_take(armature, live)
            layer = armature.animation_data.action if armature.animation_data else None
            if layer is not None and layer != layer_before:
                armature.animation_data.action = None
                bpy.data.actions.remove(layer)
        if body_obj is not None:
            mesh = body_obj.data
            bpy.data.objects.remove(body_obj)
            bpy.data.meshes.remove(mesh)
        if created and armature is not None:
            data = armature.data
            bpy.data.objects.remove(armature)
            bpy.data.armatures.remove(data)
        raise
    if created:  # a new rig is what the animator works on next: make it the active, selected object
        view_layer = context.view_layer
        for obj in view_layer.objects:
            obj.select_set(obj == armature)
        view_layer.objects.active = armature
    scene.frame_set(frame_start)
    if created:
        scene_glue.frame_in_views(context, armature)
    return ImportResult(armature, action, created, warnings)
