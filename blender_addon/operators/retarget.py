"""Dance on your own character: map its bones, transfer the dance, set the scene to render the video; takes."""

from __future__ import annotations

import json

import bpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .._shared import atomic, errors, skeleton as smpl_skeleton
from .. import properties
from ..bpy_glue import armature as armature_glue, retarget as retarget_glue, takes
from ..convert import retarget as convert
from . import common

MAP_FORMAT = "mace-dance bone map"


def _target(context):
    target = properties.settings(context).retarget_target
    if target is None or target.type != "ARMATURE":
        raise errors.InvalidInputError("no target armature chosen",
                                       hint="pick your character's armature under Retarget › Target")
    return target


TARGET_MESSAGE = "No target: pick your character's armature as Target in 'Your Character'"


def _has_target(context) -> bool:
    target = properties.settings(context).retarget_target
    return target is not None and target.type == "ARMATURE"


def _source(context):
    source = armature_glue.find_smpl_armature(context)
    armature_glue.check_smpl_armature(source)
    return source


def bone_map(target) -> dict[str, str]:
    """SMPL joint -> bone of the target's saved mapping (empty rows left out)."""
    return {pair.joint: pair.bone for pair in target.mace_bone_map if pair.bone}


def set_bone_map(target, mapping: dict[str, str]) -> None:
    target.mace_bone_map.clear()
    for joint in smpl_skeleton.JOINT_NAMES:
        pair = target.mace_bone_map.add()
        pair.joint, pair.bone = joint, mapping.get(joint, "")


class MACE_OT_auto_map(bpy.types.Operator):
    """Map the target's bones to the SMPL joints from their names (Rigify/metarig, Mixamo, Unreal, SMPL)"""

    bl_idname = "mace.auto_map"
    job_origin = "retarget"
    bl_label = "Auto-Map"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _has_target(context) or common.refuse(cls, TARGET_MESSAGE)

    def execute(self, context):
        try:
            target = _target(context)
            convention, mapping = convert.auto_map([bone.name for bone in target.data.bones])
        except errors.MaceError as exc:
            return common.report_error(self, exc)
        set_bone_map(target, mapping)
        common.clear_error()
        self.report({"INFO"}, f"{len(mapping)} of 24 joints mapped ({convention} names); check the list")
        return {"FINISHED"}


class MACE_OT_retarget(bpy.types.Operator):
    """Transfer the dance (as you see it) onto the target armature as a new action, and set the scene so Render
    Animation writes the dance video with the music"""

    bl_idname = "mace.retarget"
    job_origin = "retarget"
    bl_label = "Retarget Dance"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not _has_target(context):
            return common.refuse(cls, TARGET_MESSAGE)
        return common.dancer_or_refuse(cls, context)

    def execute(self, context):
        try:
            source, target = _source(context), _target(context)
            mapping = bone_map(target)
            if not mapping:
                _, mapping = convert.auto_map([bone.name for bone in target.data.bones])
                set_bone_map(target, mapping)
            action = retarget_glue.retarget_onto(context, source, target, mapping)
            retarget_glue.set_up_video_render(context.scene)
        except errors.MaceError as exc:
            return common.report_error(self, exc)
        properties.settings(context).dancer = source
        common.clear_error()
        self.report({"INFO"}, f"'{action.name}' on {target.name}; Render › Render Animation writes the video")
        return {"FINISHED"}


class MACE_OT_save_bone_map(bpy.types.Operator, ExportHelper):
    """Save the target's bone mapping to a file, to reuse on other characters with the same bone names"""

    bl_idname = "mace.save_bone_map"
    job_origin = "retarget"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        try:
            target = _target(context)
            text = json.dumps({"format": MAP_FORMAT, "bones": bone_map(target)}, indent=1)
            atomic.atomic_write_bytes(self.filepath, text.encode())
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)
        self.report({"INFO"}, f"saved the bone map to {self.filepath}")
        return {"FINISHED"}


class MACE_OT_load_bone_map(bpy.types.Operator, ImportHelper):
    """Load a saved bone mapping onto the target armature"""

    bl_idname = "mace.load_bone_map"
    job_origin = "retarget"
    bl_label = "Load Bone Map"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        try:
            target = _target(context)
            mapping = load_bone_map(self.filepath, {bone.name for bone in target.data.bones})
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)
        set_bone_map(target, mapping)
        self.report({"INFO"}, f"{len(mapping)} joints mapped from {bpy.path.basename(self.filepath)}")
        return {"FINISHED"}


def load_bone_map(path: str, bones: set[str]) -> dict[str, str]:
    """Read a saved bone map, checking it names SMPL joints and bones the armature has."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise errors.InvalidInputError(f"cannot read the bone map {path}: {exc}",
                                       hint="pick a .json file saved with Save Bone Map") from exc
    mapping = data.get("bones") if isinstance(data, dict) and data.get("format") == MAP_FORMAT else None
    if not isinstance(mapping, dict):
        raise errors.InvalidInputError(f"{path} is not a bone map", hint="pick a .json file saved with Save Bone Map")
    unknown = sorted(set(mapping) - set(smpl_skeleton.JOINT_NAMES))
    missing = sorted(bone for bone in mapping.values() if bone not in bones)
    if unknown or missing:
        raise errors.InvalidInputError(
            "the bone map does not fit this armature: " + "; ".join(
                part for part in (f"unknown joints {unknown}" if unknown else "",
                                  f"bones it lacks {missing[:5]}" if missing else "") if part),
            hint="load a map saved for an armature with the same bone names, or Auto-Map")
    return {str(k): str(v) for k, v in mapping.items()}


class MACE_OT_use_smpl_dancer(bpy.types.Operator):
    """Use the active SMPL armature (or the scene's only one) as the Dancer that Regenerate, Export, Render and
    Retarget work on, whatever is active later"""

    bl_idname = "mace.use_smpl_dancer"
    bl_label = "Use SMPL Dancer"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        found = armature_glue.is_smpl_armature(context.active_object) or any(
            armature_glue.is_smpl_armature(obj) for obj in context.scene.objects)
        return found or common.refuse(cls, common.NO_DANCER_MESSAGE)

    def execute(self, context):
        settings = properties.settings(context)
        settings.dancer = None  # so the lookup below takes the active (or only) dancer, not the old pick
        dancer = (context.active_object if armature_glue.is_smpl_armature(context.active_object)
                  else armature_glue.find_smpl_armature(context))
        if dancer is None:
            return common.report_error(self, errors.InvalidInputError(
                "several SMPL dancers and none of them active", hint="click the one to use, then press this again"))
        settings.dancer = dancer
        self.report({"INFO"}, f"Dancer: {dancer.name}")
        return {"FINISHED"}


class MACE_OT_use_take(bpy.types.Operator):
    """Show this take (the others are muted; your edit layer stays on top)"""

    bl_idname = "mace.use_take"
    bl_label = "Use Take"
    bl_options = {"REGISTER", "UNDO"}

    track: StringProperty(name="Take track")

    def execute(self, context):
        obj = armature_glue.find_smpl_armature(context)
        if obj is None:
            return common.report_error(self, errors.InvalidInputError(
                "no SMPL dancer to switch takes on", hint=armature_glue.NOT_SMPL_HINT))
        try:
            takes.set_active_take(obj, self.track)
        except KeyError:
            return common.report_error(self, errors.InvalidInputError(
                f"{obj.name} has no take {self.track!r}", hint="pick one of the takes listed in the panel"))
        return {"FINISHED"}
