"""Import a motion file onto an armature; export the edited animation as a motion file."""

from __future__ import annotations

import os

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .._shared import errors, motion_io
from .. import preferences, properties
from ..bpy_glue import armature as armature_glue, exporter, importer
from . import common


class MACE_OT_import_motion(bpy.types.Operator, ImportHelper):
    """Import an SMPL motion file (.npz ours or AMASS-style, AIST++/EDGE .pkl) as a new action"""

    bl_idname = "mace.import_motion"
    bl_label = "Import Motion"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default="*.npz;*.pkl", options={"HIDDEN"})

    def execute(self, context):
        try:
            motion = motion_io.load_motion(self.filepath)
            target = armature_glue.find_smpl_armature(context)
            music = properties.settings(context).music_path
            music = bpy.path.abspath(music) if music else None
            body = {} if target is not None else preferences.rest_body(context, motion.betas)
            result = importer.import_motion(
                context, motion, name=os.path.splitext(os.path.basename(self.filepath))[0], armature=target,
                **body, audio_path=music if music and os.path.isfile(music) else None)
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)
        properties.settings(context).dancer = result.armature  # the panel shows which dancer it works on
        common.clear_error()
        self.report({"INFO"}, f"imported {motion.num_frames} frames as action '{result.action.name}'")
        for warning in result.warnings:
            self.report({"WARNING"}, warning)
        return {"FINISHED"}


class MACE_OT_export_motion(bpy.types.Operator, ExportHelper):
    """Save the armature's edited animation as an SMPL motion (.npz), sampled at the motion's frame rate"""

    bl_idname = "mace.export_motion"
    bl_label = "Export Motion"
    bl_options = {"REGISTER"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    method: EnumProperty(
        name="Evaluate", default="auto",
        items=[("auto", "Auto", "Read the pose with constraints/NLA/drivers only when the armature has them"),
               ("fcurves", "F-Curves", "Evaluate the action's curves (fast)"),
               ("visual", "Visual", "Step through the frames and read the evaluated pose (constraints, IK, NLA)")])

    @classmethod
    def poll(cls, context):
        return common.dancer_or_refuse(cls, context)

    def execute(self, context):
        try:
            dancer = armature_glue.find_smpl_armature(context)
            armature_glue.check_smpl_armature(dancer)
            motion = exporter.export_motion(dancer, context.scene, self.method)
            path = motion_io.save_motion(motion, self.filepath)
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)
        common.clear_error()
        self.report({"INFO"}, f"saved {motion.num_frames} frames at {motion.fps:g} fps to {path}")
        return {"FINISHED"}
