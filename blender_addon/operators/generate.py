"""Generate a dance from the music, regenerate a selection of it, cancel."""

from __future__ import annotations

import os

import bpy
import numpy as np

from .._shared import audio_formats, errors, skeleton as smpl_skeleton
from .. import compat, jobs, preferences, properties
from ..bpy_glue import armature as armature_glue, exporter, importer
from . import common

MUSIC_HINT = f"choose a music file in the Dance panel ({audio_formats.AUDIO_FORMATS_TEXT})"


def _generate_arguments(context) -> dict:
    settings = properties.settings(context)
    music = common.existing_file(settings.music_path, "music file", MUSIC_HINT)
    return {
        "music": music,
        "seed": int(settings.seed),
        "genre": None if settings.genre == "AUTO" else settings.genre,
        "duration_s": float(settings.length_s) or None,
        "start_s": float(settings.start_s),
    }


def _finish_import(armature_name: str | None, name: str, music: str, status_word: str, merge=None):
    """The callback that turns a generation result into a new action (runs on the main thread)."""
    def finish(result) -> None:
        context = bpy.context
        armature = bpy.data.objects.get(armature_name) if armature_name else None
        motion = result.motion if merge is None else merge(result.motion)
        skeleton = None if armature is not None else preferences.rest_skeleton(context, motion.betas)
        imported = importer.import_motion(context, motion, name=name, armature=armature, skeleton=skeleton,
                                          audio_path=music, beats_s=getattr(result, "beats", None))
        message = f"{status_word} {motion.num_frames} frames as action '{imported.action.name}'"
        message += "".join(f"; {warning}" for warning in imported.warnings)
        properties.update_status({"message": message, "progress": 1.0})
        common.push_undo(f"Dance: {status_word.lower()} motion")

    return finish


class MACE_OT_generate(bpy.types.Operator):
    """Send the music to the backend and import the dance it makes as a new action"""

    bl_idname = "mace.generate"
    bl_label = "Generate Dance"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return not jobs.SESSION.busy

    def execute(self, context):
        try:
            args = _generate_arguments(context)
            audio = common.read_bytes(args["music"])
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)
        target = armature_glue.find_smpl_armature(context)
        name = importer.action_name(args["music"], args["seed"])

        def submit(client):
            return client.submit_generate_motion(
                audio, os.path.basename(args["music"]), seed=args["seed"], genre=args["genre"],
                duration_s=args["duration_s"], start_s=args["start_s"], keep=None)

        finish = _finish_import(target.name if target else None, name, args["music"], "Imported")
        return common.start_job(self, context, "generate", submit, finish)


class MACE_OT_cancel(bpy.types.Operator):
    """Stop the running generation or render"""

    bl_idname = "mace.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        if jobs.SESSION.cancel():
            self.report({"INFO"}, "cancelled")
        return {"FINISHED"}


def selected_frames(context, obj, frames: np.ndarray) -> np.ndarray | None:
    """(T,) bool: motion frames inside the preview range (if set) or the span of the selected keyframes;
    None when neither is set."""
    scene = context.scene
    if scene.use_preview_range:
        lo, hi = scene.frame_preview_start, scene.frame_preview_end
    else:
        owner = compat.channel_owner(obj, obj.animation_data.action)
        picked = [point.co[0] for fcurve in (owner.fcurves if owner else ())
                  for point in fcurve.keyframe_points if point.select_control_point]
        if not picked or len(picked) == sum(len(fc.keyframe_points) for fc in owner.fcurves):
            return None  # nothing, or everything, selected: no frame selection
        lo, hi = min(picked), max(picked)
    return (frames >= lo - 1e-6) & (frames <= hi + 1e-6)


def selected_joints(obj) -> np.ndarray | None:
    """(24,) bool: SMPL bones selected in pose mode; None when none is."""
    mask = np.array([compat.pose_bone_selected(obj.pose.bones[name]) for name in smpl_skeleton.JOINT_NAMES])
    return mask if mask.any() else None


def merge_regenerated(edited, new, frame_sel: np.ndarray, joint_sel: np.ndarray):
    """``edited`` with only the selected frames × joints (and the root translation, if the pelvis is
    selected) taken from ``new``; every other value is kept exactly."""
    if new.num_frames != edited.num_frames:
        raise errors.ProtocolError(f"the backend returned {new.num_frames} frames for a {edited.num_frames}-frame "
                                   "regeneration", hint="update the backend to the add-on's version")
    merged = edited.copy()
    region = frame_sel[:, None] & joint_sel[None, :]
    merged.poses[region] = new.poses[region]
    if joint_sel[smpl_skeleton.PELVIS]:
        merged.trans[frame_sel] = new.trans[frame_sel]
    return merged


class MACE_OT_regenerate_selection(bpy.types.Operator):
    """Regenerate the selected bones over the preview range (or selected keys); keep every other key exactly"""

    bl_idname = "mace.regenerate_selection"
    bl_label = "Regenerate Selection"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return not jobs.SESSION.busy and context.active_object is not None

    def execute(self, context):
        from .._shared import protocol

        obj = context.active_object
        try:
            args = _generate_arguments(context)
            audio = common.read_bytes(args["music"])
            edited = exporter.export_motion(obj, context.scene)
            _, frames = exporter.sampling(obj, context.scene)
            frame_sel = selected_frames(context, obj, frames)
            joint_sel = user_joints = selected_joints(obj)
            if frame_sel is None and joint_sel is None:
                raise errors.InvalidInputError(
                    "nothing is selected to regenerate",
                    hint="select bones in Pose Mode and/or set a preview range (or select keyframes)")
            frame_sel = np.ones(edited.num_frames, bool) if frame_sel is None else frame_sel
            joint_sel = np.ones(smpl_skeleton.NUM_JOINTS, bool) if joint_sel is None else joint_sel
            if not frame_sel.any():
                raise errors.InvalidInputError("the selected frame range holds no frame of the motion",
                                               hint="move the preview range over the animation")
            # The backend keeps frame_mask[t] & joint_mask[j]; the merge below makes "everything outside the
            # selection" exact even where that product cannot express it.
            keep = protocol.KeepSpec(
                motion=edited,
                frame_mask=~frame_sel if not frame_sel.all() else None,
                joint_mask=~joint_sel if frame_sel.all() else None,
                keep_root=user_joints is None or not frame_sel.all() or not joint_sel[smpl_skeleton.PELVIS],
            )
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)

        def submit(client):
            return client.submit_generate_motion(
                audio, os.path.basename(args["music"]), seed=args["seed"], genre=args["genre"],
                duration_s=edited.duration, start_s=args["start_s"], keep=keep)

        name = f"{obj.animation_data.action.name} regen"
        finish = _finish_import(obj.name, name, args["music"], "Regenerated",
                                merge=lambda new: merge_regenerated(edited, new, frame_sel, joint_sel))
        return common.start_job(self, context, "regenerate", submit, finish)
