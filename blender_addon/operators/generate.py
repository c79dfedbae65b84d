"""Generate a dance from the music, regenerate a selection of it, cancel."""

from __future__ import annotations

import os

import bpy
import numpy as np

from .._shared import audio_formats, body_mesh, errors, skeleton as smpl_skeleton
from .. import compat, jobs, preferences, properties
from ..bpy_glue import armature as armature_glue, exporter, importer, takes
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
        "sampling": preferences.sampler_choice(context),
    }


def _finish_import(armature_name: str | None, name: str, music: str, status_word: str, merge=None):
    """The callback that turns a generation result into a new action (runs on the main thread)."""
    def finish(result) -> None:
        context = bpy.context
        armature = bpy.data.objects.get(armature_name) if armature_name else None
        motion = result.motion if merge is None else merge(result.motion)
        body = {} if armature is not None else preferences.rest_body(context, motion.betas)
        imported = importer.import_motion(context, motion, name=name, armature=armature, **body,
                                          audio_path=music, beats_s=getattr(result, "beats", None))
        properties.settings(context).dancer = imported.armature  # the panel shows which dancer it works on
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
        return not jobs.SESSION.busy or common.refuse(cls, common.BUSY_MESSAGE)

    def execute(self, context):
        try:
            args = _generate_arguments(context)
            audio = common.read_bytes(args["music"])
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)
        target = armature_glue.find_smpl_armature(context)
        name = takes.take_name(target, args["music"], args["seed"], args["genre"])

        def submit(client):
            return client.submit_generate_motion(
                audio, os.path.basename(args["music"]), seed=args["seed"], genre=args["genre"],
                duration_s=args["duration_s"], start_s=args["start_s"], keep=None, sampling=args["sampling"])

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
    """(T,) bool: motion frames inside the preview range (if set) or the span of the keyframes selected on the
    live take or the edit layer; None when neither is set."""
    scene = context.scene
    if scene.use_preview_range:
        lo, hi = scene.frame_preview_start, scene.frame_preview_end
    else:
        strip = takes.active_take(obj)
        owners = [owner for owner in (takes.edit_layer_channels(obj), compat.strip_channels(strip) if strip else None)
                  if owner is not None]
        points = [point for owner in owners for fcurve in owner.fcurves for point in fcurve.keyframe_points]
        picked = [point.co[0] for point in points if point.select_control_point]
        if not picked or len(picked) == len(points):
            return None  # nothing, or everything, selected: no frame selection
        lo, hi = min(picked), max(picked)
    return (frames >= lo - 1e-6) & (frames <= hi + 1e-6)


def selected_bones(obj) -> tuple[np.ndarray | None, bool]:
    """((24,) bool SMPL joint bones selected in pose mode, or None when no bone is; root bone selected)."""
    mask = np.array([compat.pose_bone_selected(obj.pose.bones[name]) for name in smpl_skeleton.JOINT_NAMES])
    root = compat.pose_bone_selected(obj.pose.bones[body_mesh.ROOT_BONE])
    return (mask if mask.any() or root else None), root


def _check_quaternion_bones(obj, joints: np.ndarray) -> None:
    """Regeneration writes quaternion keys on the take: bones switched to another rotation mode would ignore them."""
    for j in np.flatnonzero(joints):
        bone = obj.pose.bones[smpl_skeleton.JOINT_NAMES[j]]
        if bone.rotation_mode != "QUATERNION":
            raise errors.InvalidInputError(
                f"bone {bone.name!r} uses {bone.rotation_mode} rotation, but the take is keyed in quaternions",
                hint=f"set {bone.name!r} back to Quaternion rotation mode (Bone properties) before regenerating it")


class MACE_OT_regenerate_selection(bpy.types.Operator):
    """Regenerate the selected bones over the preview range (or selected keys) as a new take; every other key, and
    your edit layer, stay exactly as they are"""

    bl_idname = "mace.regenerate_selection"
    bl_label = "Regenerate Selected"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if jobs.SESSION.busy:
            return common.refuse(cls, common.BUSY_MESSAGE)
        return common.dancer_or_refuse(cls, context)

    def execute(self, context):
        obj = armature_glue.find_smpl_armature(context)
        try:
            common.require_dependencies()
            from .._shared import keep as shared_keep

            args = _generate_arguments(context)
            audio = common.read_bytes(args["music"])
            armature_glue.check_smpl_armature(obj)
            strip = takes.active_take(obj)
            if strip is None:
                raise errors.InvalidInputError(f"armature {obj.name!r} has no take to regenerate",
                                               hint="generate or import a dance first")
            edited = exporter.export_motion(obj, context.scene)  # what the animator sees
            _, frames = exporter.sampling(obj, context.scene)
            frame_sel = selected_frames(context, obj, frames)
            joint_sel, root_sel = selected_bones(obj)
            if frame_sel is None and joint_sel is None:
                raise errors.InvalidInputError(
                    "nothing is selected to regenerate",
                    hint="select bones in Pose Mode and/or set a preview range (or select keyframes)")
            if frame_sel is not None and not frame_sel.any():
                raise errors.InvalidInputError("the selected frame range holds no frame of the motion",
                                               hint="move the preview range over the animation")
            mask = shared_keep.KeepMask.regenerate(edited.num_frames, frames=frame_sel, joints=joint_sel,
                                                   translation=root_sel or joint_sel is None)
            _check_quaternion_bones(obj, ~mask.joints.all(axis=0))
            keep = shared_keep.KeepSpec(edited, mask)
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)

        def submit(client):
            return client.submit_generate_motion(
                audio, os.path.basename(args["music"]), seed=args["seed"], genre=args["genre"],
                duration_s=edited.duration, start_s=args["start_s"], keep=keep, sampling=args["sampling"])

        obj_name, name = obj.name, takes.take_name(obj, args["music"], args["seed"], "regen")

        def finish(result) -> None:
            new = result.motion
            if abs(new.fps - edited.fps) > 1e-6:
                new = new.resample(edited.fps)
            if new.num_frames != edited.num_frames:
                raise errors.ProtocolError(f"the backend returned {new.num_frames} frames for a {edited.num_frames}-"
                                           "frame regeneration", hint="update the backend to the add-on's version")
            track = takes.regenerated_take(bpy.data.objects[obj_name], new, mask, frames, name)
            message = f"Regenerated {int((~mask.cells).any(axis=1).sum())} frames as take '{track.strips[0].action.name}'"
            properties.update_status({"message": message, "progress": 1.0})
            common.push_undo("Dance: regenerate selection")

        return common.start_job(self, context, "regenerate", submit, finish, origin="dance")
