"""Read the (edited) animation of an SMPL armature back as a ``shared.motion.Motion``."""

from __future__ import annotations

import math

import bpy
import numpy as np

from .._shared import body_mesh, errors, motion as shared_motion, skeleton as smpl_skeleton
from .. import compat
from ..convert import armature_to_smpl
from ..convert.smpl_to_armature import location_data_path, rotation_data_path
from . import action as action_glue, armature as armature_glue, scene as scene_glue, takes

METHODS = ("auto", "fcurves", "visual")


def source_action(obj) -> bpy.types.Action:
    """The action whose motion is being edited: the live take, or (an armature without takes) the active action."""
    strip = takes.active_take(obj)
    if strip is not None:
        return strip.action
    anim = obj.animation_data
    if anim is None or anim.action is None:
        raise errors.InvalidInputError(f"armature {obj.name!r} has no action to export",
                                       hint="generate or import a motion first, or assign an action")
    return anim.action


def _plain_take(obj):
    """The live take's strip when it alone moves the bones, unchanged by the NLA (so its F-curves can be read
    directly); else None."""
    strip = takes.active_take(obj)
    anim = obj.animation_data
    if strip is None:
        return None
    layer = takes.edit_layer_channels(obj)
    if layer is not None and len(layer.fcurves) and anim.action_influence > 0:
        return None
    live = [track for track in anim.nla_tracks if not track.mute and len(track.strips)]
    if len(live) != 1 or len(live[0].strips) != 1:
        return None
    plain = (strip.blend_type == "REPLACE" and not strip.mute and not strip.use_animated_influence and not strip.use_animated_time and strip.scale == 1.0
             and strip.repeat == 1.0 and strip.frame_start == strip.action_frame_start
             and not getattr(strip, "use_reverse", False))  # fmt: skip
    return strip if plain else None


def needs_visual_evaluation(obj: bpy.types.Object) -> bool:
    """True when more than one take's F-curves move the bones (edit layer keys, other NLA tracks or strip
    settings, constraints, drivers)."""
    if any(len(pose_bone.constraints) for pose_bone in obj.pose.bones):
        return True
    anim = obj.animation_data
    if anim is None:
        return False
    if len(anim.drivers) > 0:
        return True
    if takes.active_take(obj) is not None:
        return _plain_take(obj) is None
    return any(not track.mute for track in anim.nla_tracks)


def sampling(obj, scene) -> tuple[float, np.ndarray]:
    """(motion fps, (T,) Blender frames to sample) for the motion being edited (see :func:`source_action`)."""
    action = source_action(obj)
    blender_fps = scene_glue.scene_fps(scene)
    fps = float(action.get(action_glue.PROP_FPS, blender_fps))
    first, last = (float(f) for f in action.frame_range)
    start = float(action.get(action_glue.PROP_FRAME_START, first))
    count = action.get(action_glue.PROP_NUM_FRAMES)
    if count is None:
        count = int(math.floor((last - start) * fps / blender_fps + 1e-6)) + 1
    return fps, start + np.arange(int(count)) * (blender_fps / fps)


def sample_fcurve(fcurve: bpy.types.FCurve, frames: np.ndarray) -> np.ndarray:
    """Values of ``fcurve`` at ``frames`` (T,) -> (T,) float64.

    Frames that hold a key take the key's value directly (what ``evaluate`` returns there anyway, for any
    interpolation); the others are evaluated one by one. With one key per motion frame that makes the
    common case a single ``foreach_get``.
    """
    points = fcurve.keyframe_points
    out = np.empty(len(frames), dtype=np.float64)
    pending = np.ones(len(frames), dtype=bool)
    if len(points) and len(fcurve.modifiers) == 0:
        co = np.empty(2 * len(points), dtype=np.float32)
        points.foreach_get("co", co)
        key_frames, key_values = co[0::2], co[1::2]
        wanted = frames.astype(np.float32)
        index = np.clip(np.searchsorted(key_frames, wanted), 0, len(key_frames) - 1)
        exact = key_frames[index] == wanted
        out[exact] = key_values[index[exact]]
        pending = ~exact
    for i in np.flatnonzero(pending):
        out[i] = fcurve.evaluate(float(frames[i]))
    return out


def _channel(fcurves: dict, data_path: str, static_values, frames: np.ndarray) -> np.ndarray:
    """(T, N) values of an N-component property: animated components sampled, the rest held static."""
    columns = []
    for index, static in enumerate(static_values):
        fcurve = fcurves.get((data_path, index))
        if fcurve is None or fcurve.mute:
            columns.append(np.full(len(frames), float(static)))
        else:
            columns.append(sample_fcurve(fcurve, frames))
    return np.stack(columns, axis=-1)


def _rotation_channel(fcurves: dict, pose_bone, frames: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation of a pose bone's channels (its rotation mode), sampled at ``frames``."""
    mode = pose_bone.rotation_mode
    static = {"QUATERNION": pose_bone.rotation_quaternion,
              "AXIS_ANGLE": pose_bone.rotation_axis_angle}.get(mode, pose_bone.rotation_euler)
    values = _channel(fcurves, rotation_data_path(pose_bone.name, mode), tuple(static), frames)
    return armature_to_smpl.channels_to_matrix(values, mode)


def _read_fcurves(obj, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (T, J, 3, 3) and trans (T, 3) from the F-curves of the live take (or the active action),
    per bone rotation mode."""
    strip = takes.active_take(obj)
    action = source_action(obj)
    owner = compat.strip_channels(strip) if strip is not None else compat.channel_owner(obj, action)
    fcurves = {} if owner is None else {(fc.data_path, fc.array_index): fc for fc in owner.fcurves}
    if not fcurves:
        raise errors.InvalidInputError(f"the action {action.name!r} of {obj.name!r} is empty",
                                       hint="generate or import a motion, or key the armature, then export")
    bones = obj.pose.bones
    joints = np.stack([_rotation_channel(fcurves, bones[name], frames) for name in smpl_skeleton.JOINT_NAMES], axis=1)
    root = bones[body_mesh.ROOT_BONE]
    location = _channel(fcurves, location_data_path(root.name), tuple(root.location), frames)
    pelvis = bones[smpl_skeleton.JOINT_NAMES[0]]
    pelvis_location = _channel(fcurves, location_data_path(pelvis.name), tuple(pelvis.location), frames)
    return armature_to_smpl.channels_to_local(joints, _rotation_channel(fcurves, root, frames), location,
                                              armature_glue.rig_frames(obj), pelvis_location)


def _read_visual(obj, scene, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations and trans from the evaluated pose at every frame (constraints, drivers, NLA)."""
    order = np.array([obj.pose.bones.find(name) for name in smpl_skeleton.JOINT_NAMES])
    buffer = np.empty(len(obj.pose.bones) * 16, dtype=np.float32)
    matrices = np.empty((len(frames), smpl_skeleton.NUM_JOINTS, 4, 4))
    saved_frame, saved_subframe = scene.frame_current, scene.frame_subframe
    try:
        for t, frame in enumerate(frames):
            whole = math.floor(frame)
            scene.frame_set(int(whole), subframe=float(frame - whole))
            obj.pose.bones.foreach_get("matrix", buffer)
            # foreach_get flattens each 4x4 column by column.
            matrices[t] = buffer.reshape(-1, 4, 4).transpose(0, 2, 1)[order]
    finally:
        scene.frame_set(saved_frame, subframe=saved_subframe)
    return armature_to_smpl.visual_to_local(matrices, armature_glue.rig_frames(obj))


def sample_local(obj: bpy.types.Object, scene: bpy.types.Scene, method: str = "auto"):
    """What the animator sees on the armature (see :func:`export_motion`) as SMPL local rotation matrices:
    ``(fps, local (T, J, 3, 3), trans (T, 3))``, Y-up, before any conversion to axis-angle."""
    if method not in METHODS:
        raise errors.InvalidInputError(f"unknown export method {method!r}", hint=f"use one of {METHODS}")
    armature_glue.check_smpl_armature(obj)
    fps, frames = sampling(obj, scene)
    if method == "auto":
        method = "visual" if needs_visual_evaluation(obj) else "fcurves"
    if method == "visual":
        local, trans = _read_visual(obj, scene, frames)
    else:
        local, trans = _read_fcurves(obj, frames)
    return fps, local, trans


def export_motion(obj: bpy.types.Object, scene: bpy.types.Scene, method: str = "auto"):
    """What the animator sees on the armature -- the live take with the edit layer (and any other NLA track,
    constraint or driver) on top -- sampled at the take's fps, as a ``shared.motion.Motion``.

    Args:
        obj: an SMPL armature (see ``armature.check_smpl_armature``).
        method: ``"fcurves"`` evaluates the take's F-curves alone, directly (fast; any rotation mode, any
            keys); ``"visual"`` steps the scene and reads the evaluated bones (the whole stack);
            ``"auto"`` reads the F-curves only when nothing but the live take moves the bones.
    """
    fps, local, trans = sample_local(obj, scene, method)
    return shared_motion.Motion(
        poses=armature_to_smpl.local_to_poses(local), trans=trans.astype(np.float32), fps=fps,
        betas=np.asarray(obj.get(armature_glue.PROP_BETAS, np.zeros(10)), dtype=np.float32),
        gender=str(obj.get(armature_glue.PROP_GENDER, "neutral")),
        metadata={"source": "blender", "armature": obj.name, "action": source_action(obj).name},
    )
